/**
 * Every Dockerfile of the shared conformance kit goes through parse + resolve with the case's
 * target and build args. Cases whose failure is decided by the front end must fail here with the
 * expected words; all others must get through.
 */
import { test, expect } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED } from '../support/cli.js';
import { parseDockerfile } from '../../src/parser/parse.js';
import { resolveDockerfile } from '../../src/parser/resolve.js';
import { isTbuildError } from '../../src/errors.js';

const CASES = join(SHARED, 'conformance', 'cases');

/** Failures the parser and resolver must report (the rest fail later, in the build). */
const FRONT_END_FAILURES: Record<string, string> = {
  'fail-empty-dockerfile': 'TB_PARSE_EMPTY',
  'fail-no-from': 'TB_PARSE_NO_FROM',
  'fail-unknown-instruction': 'TB_PARSE_UNKNOWN_INSTRUCTION',
  'fail-circular-stage': 'TB_STAGE_CIRCULAR',
  'fail-target-not-found': 'TB_STAGE_NOT_FOUND',
};

interface Case {
  dockerfile?: string;
  target?: string;
  buildArgs?: Record<string, string>;
  build?: Array<{ buildArgs?: Record<string, string> }>;
  expect: { errorContains?: string[] };
}

const names = existsSync(CASES) ? readdirSync(CASES).sort() : [];

test('the conformance kit is present', () => {
  expect(names.length).toBeGreaterThan(100);
});

for (const name of names) {
  test(name, () => {
    const c = JSON.parse(readFileSync(join(CASES, name, 'case.json'), 'utf8')) as Case;
    const text = readFileSync(join(CASES, name, c.dockerfile ?? 'Dockerfile'), 'utf8');
    const run = () => resolveDockerfile(parseDockerfile(text), { target: c.target, buildArgs: c.buildArgs ?? {} });
    const code = FRONT_END_FAILURES[name];
    if (!code) {
      expect(run).not.toThrow();
      return;
    }
    let err: unknown;
    try {
      run();
    } catch (e) {
      err = e;
    }
    expect(isTbuildError(err, code as never)).toBe(true);
    for (const w of c.expect.errorContains ?? []) expect((err as Error).message).toContain(w);
  });
}

/**
 * Golden files: every `testdata/parser/<name>/Dockerfile` is parsed and resolved and the result
 * compared with `expected.json` beside it (an `error` object for Dockerfiles that must fail).
 * `UPDATE_GOLDEN=1 npx vitest run test/parser/golden.test.ts` rewrites the expected files; review
 * the diff by eye before keeping it.
 */
import { test, expect, describe } from 'vitest';
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../support/cli.js';
import { parseDockerfile } from '../../src/parser/parse.js';
import { resolveDockerfile } from '../../src/parser/resolve.js';
import { isTbuildError } from '../../src/errors.js';
import type { ResolveOptions } from '../../src/parser/types.js';

const DIR = join(PROJECT_ROOT, 'testdata', 'parser');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

function dump(text: string, opts: ResolveOptions): unknown {
  try {
    const df = parseDockerfile(text, { file: 'Dockerfile' });
    const r = resolveDockerfile(df, opts);
    return {
      directives: df.directives,
      globalArgs: df.globalArgs,
      stages: df.stages,
      diagnostics: df.diagnostics,
      resolved: {
        target: r.target,
        needed: r.needed,
        globalArgs: Object.fromEntries([...r.globalArgs].map(([k, v]) => [k, v ?? null])),
        stages: r.stages.map((s) => ({ index: s.stage.index, base: s.base, platform: s.platform, dependsOn: s.dependsOn })),
      },
    };
  } catch (err) {
    if (!isTbuildError(err)) throw err;
    return { error: { code: err.code, message: err.message, range: err.range ?? null } };
  }
}

const cases = readdirSync(DIR, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

describe('parser golden files', () => {
  test('there are at least 30 cases, at least 10 of them failures', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
    expect(cases.filter((c) => c.startsWith('err-')).length).toBeGreaterThanOrEqual(10);
  });

  for (const name of cases) {
    test(name, () => {
      const dir = join(DIR, name);
      const text = readFileSync(join(dir, 'Dockerfile'), 'utf8');
      const optsFile = join(dir, 'options.json');
      const opts = existsSync(optsFile) ? (JSON.parse(readFileSync(optsFile, 'utf8')) as ResolveOptions) : {};
      const got = JSON.parse(JSON.stringify(dump(text, opts))) as Record<string, unknown>;
      const expectedFile = join(dir, 'expected.json');
      if (UPDATE || !existsSync(expectedFile)) {
        writeFileSync(expectedFile, JSON.stringify(got, null, 2) + '\n');
      }
      const expected = JSON.parse(readFileSync(expectedFile, 'utf8')) as Record<string, unknown>;
      expect(got).toEqual(expected);
      // a case's name says whether it must fail
      expect('error' in got).toBe(name.startsWith('err-'));
    });
  }
});

import { describe, expect, test } from 'vitest';
import { findings, lint } from './helpers.js';
import { formatDiagnostic, parseCheckDirective, RULES, lintFailureMessage } from '../../../src/parser/checks/index.js';
import { isTbuildError } from '../../../src/errors.js';

describe('parseCheckDirective', () => {
  test('values', () => {
    expect(parseCheckDirective()).toEqual({ skip: new Set(), error: false, experimental: new Set() });
    expect(parseCheckDirective('skip=all')).toMatchObject({ skip: 'all', error: false });
    expect(parseCheckDirective(' skip = A, B ; error = true ')).toMatchObject({ skip: new Set(['A', 'B']), error: true });
    expect(parseCheckDirective('error=false;experimental=all')).toMatchObject({ error: false, experimental: 'all' });
    expect(parseCheckDirective('error=1').error).toBe(true);
  });
  test.each(['skip', 'bogus=1', 'error=maybe'])('invalid %j', (v) => {
    let caught: unknown;
    try {
      parseCheckDirective(v);
    } catch (err) {
      caught = err;
    }
    expect(isTbuildError(caught, 'TB_PARSE_DIRECTIVE')).toBe(true);
  });
});

describe('check configuration', () => {
  const body = 'FROM scratch as base\ncopy Dockerfile .\n';
  test('skip=all and listed skips', () => {
    expect(findings('#check=skip=all\n' + body)).toEqual([]);
    expect(findings('#check=skip=all;error=true\n' + body)).toEqual([]);
    expect(findings('#check=skip=ConsistentInstructionCasing,FromAsCasing\n' + body)).toEqual([]);
  });
  test('error=true turns findings into errors', () => {
    const d = lint('#check=skip=ConsistentInstructionCasing;error=true\n' + body);
    expect(d.map((x) => [x.rule, x.severity, x.range?.startLine])).toEqual([['FromAsCasing', 'error', 2]]);
    expect(lintFailureMessage(d)).toBe('lint violation found for rules: FromAsCasing');
    expect(lint('#check=skip=ConsistentInstructionCasing\n' + body).map((x) => x.severity)).toEqual(['warning']);
  });
  test('the BUILDKIT_DOCKERFILE_CHECK build arg replaces the directive', () => {
    const viaArg = lint('#check=skip=all\n' + body, { buildArgs: { BUILDKIT_DOCKERFILE_CHECK: 'skip=ConsistentInstructionCasing;error=true' } });
    expect(viaArg.map((x) => [x.rule, x.severity])).toEqual([['FromAsCasing', 'error']]);
    expect(lint('#check=error=true\n' + body, { buildArgs: { BUILDKIT_DOCKERFILE_CHECK: 'skip=all' } })).toEqual([]);
  });
  test('diagnostics carry the rule URL and come sorted by line', () => {
    const d = lint('FROM scratch AS Bad\nMAINTAINER x\nCMD run\n');
    expect(d.map((x) => x.rule)).toEqual(['StageNameCasing', 'MaintainerDeprecated', 'JSONArgsRecommended']);
    expect(d[0]!.url).toBe('https://docs.docker.com/go/dockerfile/rule/stage-name-casing/');
    expect(formatDiagnostic(d[2]!)).toBe('JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals (line 3)');
  });
  test('every BuildKit rule is present once', () => {
    const names = RULES.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toHaveLength(22);
  });
});

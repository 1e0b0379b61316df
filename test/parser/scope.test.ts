import { test, expect, describe } from 'vitest';
import { StageScope, PROXY_ARGS } from '../../src/parser/scope.js';
import { parseDockerfile } from '../../src/parser/parse.js';
import { resolveDockerfile } from '../../src/parser/resolve.js';
import type { ArgInstruction, EnvInstruction } from '../../src/parser/types.js';

/** Drives a stage's ARG/ENV through the scope the way the solver does. */
function runStage(text: string, buildArgs: Record<string, string> = {}, baseEnv: string[] = []): StageScope {
  const r = resolveDockerfile(parseDockerfile(text), { buildArgs });
  const scope = new StageScope({ globalArgs: r.globalArgs, buildArgs, baseEnv });
  for (const ins of r.dockerfile.stages[r.target]!.instructions) {
    if (ins.kind === 'ARG') for (const a of (ins as ArgInstruction).args) scope.declareArg(a);
    if (ins.kind === 'ENV') {
      // expand every pair against the scope before setting any (same-line references see the old value)
      const pairs = (ins as EnvInstruction).pairs.map((p) => [scope.expand(p.key), scope.expand(p.value)] as const);
      for (const [k, v] of pairs) scope.setEnv(k, v);
    }
  }
  return scope;
}

describe('StageScope', () => {
  test('ARG default, visible after declaration only', () => {
    const s = runStage('FROM a\nARG GREETING=hello\n');
    expect(s.lookup('GREETING')).toBe('hello');
    expect(s.expand('"$GREETING" world')).toBe('hello world');
    expect(s.runEnv()).toEqual(['GREETING=hello']);
    expect(s.imageEnv()).toEqual([]);
  });

  test('global ARG redeclared inside the stage takes the global value', () => {
    const s = runStage('ARG V=global\nFROM a\nARG V\n');
    expect(s.lookup('V')).toBe('global');
    expect(runStage('ARG V=global\nFROM a\n').lookup('V')).toBeUndefined();
    expect(runStage('ARG V=global\nFROM a\nARG V=local\n').lookup('V')).toBe('local');
  });

  test('build args override defaults and globals', () => {
    expect(runStage('ARG V=global\nFROM a\nARG V\n', { V: 'cli' }).lookup('V')).toBe('cli');
    expect(runStage('FROM a\nARG V=def\n', { V: 'cli' }).lookup('V')).toBe('cli');
    expect(runStage('FROM a\nARG V\n', { V: '' }).lookup('V')).toBe('');
  });

  test('undeclared build args are not visible', () => {
    const s = runStage('FROM a\nARG OTHER=1\n', { NOT_DECLARED: 'x' });
    expect(s.lookup('NOT_DECLARED')).toBeUndefined();
    expect(s.expand('[$NOT_DECLARED]')).toBe('[]');
    expect(s.runEnv()).toEqual(['OTHER=1']);
  });

  test('an ARG without value is unset, and ${V-unset} sees that', () => {
    const s = runStage('FROM a\nARG NOVAL\n');
    expect(s.lookup('NOVAL')).toBeUndefined();
    expect(s.expand('[${NOVAL-unset}]')).toBe('[unset]');
    expect(s.runEnv()).toEqual([]);
    expect(s.declaredArgs()).toEqual([['NOVAL', undefined]]);
  });

  test('ENV after ARG of the same name wins; the image config keeps ENV only', () => {
    const s = runStage('FROM a\nARG A=arg\nENV A=env\nENV B=${A}\n');
    expect(s.lookup('A')).toBe('env');
    expect(s.lookup('B')).toBe('env');
    expect(s.runEnv()).toEqual(['A=env', 'B=env']);
    expect(s.imageEnv()).toEqual(['A=env', 'B=env']);
  });

  test('an ARG with a value after ENV of the same name wins for RUN and expansion (BuildKit dispatchArg)', () => {
    const t = runStage('FROM a\nENV A=env\nARG A=arg\nENV C=$A\n');
    expect(t.lookup('A')).toBe('arg');
    expect(t.lookup('C')).toBe('arg');
    expect(t.runEnv()).toEqual(['A=arg', 'C=arg']);
    expect(t.imageEnv()).toEqual(['A=env', 'C=arg']);
    expect(t.declaredArgs()).toEqual([['A', 'arg']]);
    // without a value the ARG changes nothing
    const u = runStage('FROM a\nENV A=env\nARG A\n');
    expect(u.lookup('A')).toBe('env');
    expect(u.runEnv()).toEqual(['A=env']);
  });

  test('ARGs on one line apply in turn', () => {
    expect(runStage('FROM a\nARG A=1 B=$A\n').lookup('B')).toBe('1');
  });

  test('same-line ENV references see the value from before the instruction', () => {
    const s = runStage('FROM a\nENV A=1 B=$A\n');
    expect(s.lookup('B')).toBe('');
    const t = runStage('FROM a\nENV A=0\nENV A=1 B=$A\n');
    expect(t.lookup('B')).toBe('0');
  });

  test('base image ENV: kept in order, replaced in place, extended', () => {
    const s = runStage('FROM a\nENV PATH=/opt/bin:$PATH HOME=/root\n', {}, ['PATH=/usr/bin', 'LANG=C']);
    expect(s.imageEnv()).toEqual(['PATH=/opt/bin:/usr/bin', 'LANG=C', 'HOME=/root']);
  });

  test('ARG default expands against the scope so far', () => {
    const s = runStage('FROM a\nENV BASE=/opt\nARG DIR=$BASE/app\nARG SUB=${DIR}/sub\n');
    expect(s.lookup('SUB')).toBe('/opt/app/sub');
  });

  test('proxy build args reach RUN undeclared, not expansion or history', () => {
    const s = runStage('FROM a\nARG X=1\n', { http_proxy: 'http://p:3128', NO_PROXY: 'localhost', OTHER: 'no' });
    expect(s.runEnv()).toEqual(['X=1', 'http_proxy=http://p:3128', 'NO_PROXY=localhost']);
    expect(s.lookup('http_proxy')).toBeUndefined();
    expect(s.declaredArgs()).toEqual([['X', '1']]);
    expect(PROXY_ARGS).toHaveLength(10);
    // declared proxy ARGs behave like any ARG
    const d = runStage('FROM a\nARG HTTPS_PROXY\n', { HTTPS_PROXY: 'http://q' });
    expect(d.lookup('HTTPS_PROXY')).toBe('http://q');
    expect(d.runEnv()).toEqual(['HTTPS_PROXY=http://q']);
  });

  test('platform ARGs need a declaration in the stage and take the automatic value', () => {
    const s = runStage('FROM a\nARG TARGETOS\nARG TARGETARCH\nARG TARGETPLATFORM\nARG BUILDOS\n');
    expect(s.expand('$TARGETOS/$TARGETARCH $TARGETPLATFORM $BUILDOS')).toBe('linux/amd64 linux/amd64 linux');
    expect(runStage('FROM a\n').lookup('TARGETOS')).toBeUndefined();
  });

  test('expandList splits unquoted expansions', () => {
    const s = runStage('FROM a\nARG L="a b"\n');
    expect(s.expandList('$L "c d"')).toEqual(['a', 'b', 'c d']);
  });

  test('escape char from the directive', () => {
    const s = new StageScope({ globalArgs: new Map(), buildArgs: {}, baseEnv: ['A=x'], escape: '`' });
    expect(s.expand('C:\\dir\\$A')).toBe('C:\\dir\\x');
    expect(s.expand('`$A')).toBe('$A');
  });
});

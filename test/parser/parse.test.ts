import { test, expect, describe } from 'vitest';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_DOCKERFILE_BYTES, parseDockerfile } from '../../src/parser/parse.js';
import { runCli } from '../support/cli.js';
import { extractFlags } from '../../src/parser/flags.js';
import { isTbuildError, type ErrorCode, TbuildError } from '../../src/errors.js';
import type { Instruction, RunInstruction, CopyInstruction, CmdInstruction } from '../../src/parser/types.js';

function failure(text: string): TbuildError {
  try {
    parseDockerfile(text);
  } catch (err) {
    if (isTbuildError(err)) return err;
    throw err;
  }
  throw new Error('expected a parse error');
}

function expectFailure(text: string, code: ErrorCode, line: number | undefined, words: string[]): void {
  const err = failure(text);
  expect(err.code).toBe(code);
  if (line === undefined) expect(err.range).toBeUndefined();
  else expect(err.range?.startLine).toBe(line);
  for (const w of words) expect(err.message).toContain(w);
}

const first = (text: string): Instruction => parseDockerfile(text).stages[0]!.instructions[0]!;

describe('negative cases', () => {
  test('empty and comment-only files', () => {
    expectFailure('', 'TB_PARSE_EMPTY', undefined, ['file with no instructions']);
    expectFailure('\n\n   \n', 'TB_PARSE_EMPTY', undefined, ['file with no instructions']);
    expectFailure('# only\n# comments\n', 'TB_PARSE_EMPTY', undefined, ['file with no instructions']);
    expectFailure('# syntax=docker/dockerfile:1\n', 'TB_PARSE_EMPTY', undefined, []);
  });

  test('unknown instruction names the word and suggests', () => {
    const err = failure('FROM a\nFNTRYPOINT ["x"]\n');
    expect(err.code).toBe('TB_PARSE_UNKNOWN_INSTRUCTION');
    expect(err.range).toEqual({ startLine: 2, endLine: 2 });
    expect(err.message).toContain('FNTRYPOINT');
    expect(err.message).toContain('did you mean ENTRYPOINT');
    expect(err.details.suggestion).toBe('ENTRYPOINT');
    expectFailure('FROM a\nFROBNICATE now\n', 'TB_PARSE_UNKNOWN_INSTRUCTION', 2, ['FROBNICATE']);
    expectFailure('FROM a\nRUN x\n\ncopyy a b\n', 'TB_PARSE_UNKNOWN_INSTRUCTION', 4, ['copyy', 'COPY']);
  });

  test('bad flags name the flag and suggest', () => {
    const err = failure('FROM a\nRUN --mont=type=cache,target=/c true\n');
    expect(err.code).toBe('TB_PARSE_BAD_FLAG');
    expect(err.message).toContain('mont');
    expect(err.details.suggestion).toBe('mount');
    expectFailure('FROM a\nCOPY --chmown=1 a b\n', 'TB_PARSE_BAD_FLAG', 2, ['chmown', 'chown']);
    expectFailure('FROM a\nADD --from=x a b\n', 'TB_PARSE_BAD_FLAG', 2, ['from']);
    expectFailure('FROM a\nCOPY --link=maybe a b\n', 'TB_PARSE_BAD_FLAG', 2, ['link', 'maybe']);
    expectFailure('FROM a\nCOPY --from a b\n', 'TB_PARSE_BAD_FLAG', 2, ['from']);
    expectFailure('FROM a\nCOPY --from=x --from=y a b\n', 'TB_PARSE_BAD_FLAG', 2, ['duplicate', 'from']);
    expectFailure('FROM --plaform=linux/amd64 a\n', 'TB_PARSE_BAD_FLAG', 1, ['plaform', 'platform']);
    expectFailure('FROM a\nRUN --network=bridge true\n', 'TB_PARSE_BAD_FLAG', 2, ['bridge']);
    expectFailure('FROM a\nRUN --security=weird true\n', 'TB_PARSE_BAD_FLAG', 2, ['weird']);
  });

  test('heredoc without terminator reports the instruction line', () => {
    expectFailure('FROM a\nRUN true\nRUN <<EOF\necho hi\n', 'TB_PARSE_HEREDOC', 3, ['EOF']);
    expectFailure('FROM a\nCOPY <<ONE <<TWO /x\none\nONE\ntwo\n', 'TB_PARSE_HEREDOC', 2, ['TWO']);
    // a `<<-` terminator may be indented with tabs, a `<<` one may not
    expectFailure('FROM a\nRUN <<EOF\nx\n\tEOF\n', 'TB_PARSE_HEREDOC', 2, ['EOF']);
  });

  test('ONBUILD forbidden triggers', () => {
    expectFailure('FROM a\nONBUILD FROM b\n', 'TB_PARSE_ONBUILD', 2, ['FROM']);
    expectFailure('FROM a\nONBUILD ONBUILD RUN x\n', 'TB_PARSE_ONBUILD', 2, ['ONBUILD']);
    expectFailure('FROM a\nONBUILD maintainer me\n', 'TB_PARSE_ONBUILD', 2, ['MAINTAINER']);
    expectFailure('FROM a\nONBUILD\n', 'TB_PARSE_BAD_ARGS', 2, ['ONBUILD']);
    expectFailure('FROM a\nONBUILD BOGUS x\n', 'TB_PARSE_UNKNOWN_INSTRUCTION', 2, ['BOGUS']);
  });

  test('no FROM', () => {
    expectFailure('RUN echo before-from\nFROM a\n', 'TB_PARSE_NO_FROM', 1, ['RUN']);
    expectFailure('ARG A=1\nENV B=2\nFROM a\n', 'TB_PARSE_NO_FROM', 2, ['ENV']);
    expectFailure('ARG A=1\n', 'TB_PARSE_NO_FROM', 1, ['FROM']);
  });

  test('bad mount options', () => {
    expectFailure('FROM a\nRUN --mount=type=cache,target=/c,sharring=locked true\n', 'TB_PARSE_MOUNT', 2, ['sharring', 'sharing']);
    expectFailure('FROM a\nRUN --mount=type=cahce,target=/c true\n', 'TB_PARSE_MOUNT', 2, ['cahce', 'cache']);
    expectFailure('FROM a\nRUN --mount=type=bind,mode=0755,target=/x true\n', 'TB_PARSE_MOUNT', 2, ['mode']);
    expectFailure('FROM a\nRUN --mount=from=$X,target=/x true\n', 'TB_PARSE_MOUNT', 2, ['from']);
  });

  test('argument counts and shapes', () => {
    expectFailure('FROM a\nENV =x\n', 'TB_PARSE_BAD_ARGS', 2, ['ENV names can not be blank']);
    expectFailure('FROM a\nENV\n', 'TB_PARSE_BAD_ARGS', 2, ['ENV']);
    expectFailure('FROM a\nENV A=1 B\n', 'TB_PARSE_BAD_ARGS', 2, ['"B"']);
    expectFailure('FROM a\nLABEL =x\n', 'TB_PARSE_BAD_ARGS', 2, ['LABEL names can not be blank']);
    expectFailure('FROM a\nARG =x\n', 'TB_PARSE_BAD_ARGS', 2, ['ARG']);
    expectFailure('FROM a\nARG\n', 'TB_PARSE_BAD_ARGS', 2, ['ARG requires at least one argument']);
    expectFailure('FROM a\nCOPY onlyone\n', 'TB_PARSE_BAD_ARGS', 2, ['COPY requires at least two arguments']);
    expectFailure('FROM a\nADD ["x"]\n', 'TB_PARSE_BAD_ARGS', 2, ['ADD']);
    expectFailure('FROM a\nCOPY a <<EOF\nx\nEOF\n', 'TB_PARSE_BAD_ARGS', 2, ['heredoc']);
    expectFailure('FROM\n', 'TB_PARSE_BAD_ARGS', 1, ['FROM']);
    expectFailure('FROM a AS\n', 'TB_PARSE_BAD_ARGS', 1, ['FROM']);
    expectFailure('FROM a b c\n', 'TB_PARSE_BAD_ARGS', 1, ['FROM']);
    expectFailure('FROM a AS 1x\n', 'TB_PARSE_BAD_ARGS', 1, ['1x']);
    expectFailure('FROM a\nSHELL /bin/sh -c\n', 'TB_PARSE_BAD_ARGS', 2, ['SHELL', 'JSON']);
    expectFailure('FROM a\nSHELL []\n', 'TB_PARSE_BAD_ARGS', 2, ['SHELL']);
    expectFailure('FROM a\nEXPOSE\n', 'TB_PARSE_BAD_ARGS', 2, ['EXPOSE']);
    expectFailure('FROM a\nVOLUME [""]\n', 'TB_PARSE_BAD_ARGS', 2, ['VOLUME']);
    expectFailure('FROM a\nUSER\n', 'TB_PARSE_BAD_ARGS', 2, ['USER']);
    expectFailure('FROM a\nWORKDIR\n', 'TB_PARSE_BAD_ARGS', 2, ['WORKDIR']);
    expectFailure('FROM a\nRUN\n', 'TB_PARSE_BAD_ARGS', 2, ['RUN']);
    expectFailure('FROM a\nHEALTHCHECK\n', 'TB_PARSE_BAD_ARGS', 2, ['HEALTHCHECK']);
    expectFailure('FROM a\nHEALTHCHECK NONE x\n', 'TB_PARSE_BAD_ARGS', 2, ['NONE']);
    expectFailure('FROM a\nHEALTHCHECK CMD\n', 'TB_PARSE_BAD_ARGS', 2, ['CMD']);
    expectFailure('FROM a\nHEALTHCHECK PING x\n', 'TB_PARSE_BAD_ARGS', 2, ['PING']);
    expectFailure('FROM a\nHEALTHCHECK --interval=10 CMD x\n', 'TB_PARSE_BAD_FLAG', 2, ['interval']);
    expectFailure('FROM a\nHEALTHCHECK --timeout=10ns CMD x\n', 'TB_PARSE_BAD_FLAG', 2, ['timeout']);
    expectFailure('FROM a\nHEALTHCHECK --retries=-1 CMD x\n', 'TB_PARSE_BAD_FLAG', 2, ['retries']);
  });

  test('a JSON array with a non-string is an error, not a fallback', () => {
    expectFailure('FROM a\nCMD ["echo", 1]\n', 'TB_PARSE_BAD_JSON', 2, ['CMD']);
    expectFailure('FROM a\nENTRYPOINT [null]\n', 'TB_PARSE_BAD_JSON', 2, ['ENTRYPOINT']);
  });

  test('directives', () => {
    expectFailure('# escape=x\nFROM a\n', 'TB_PARSE_DIRECTIVE', 1, ['x']);
    expectFailure('# syntax=a\n# SYNTAX=b\nFROM a\n', 'TB_PARSE_DIRECTIVE', 2, ['syntax']);
  });

  test('parse errors carry the source and file for rendering', () => {
    let err: unknown;
    try {
      parseDockerfile('FROM a\nBOGUS\n', { file: 'sub/Dockerfile.dev' });
    } catch (e) {
      err = e;
    }
    expect(isTbuildError(err)).toBe(true);
    const e = err as TbuildError;
    expect(e.file).toBe('sub/Dockerfile.dev');
    expect(e.details.source).toBe('FROM a\nBOGUS\n');
  });
});

describe('forms', () => {
  test('bad JSON falls back to the shell form', () => {
    expect((first('FROM a\nCMD [bad\n') as CmdInstruction).command).toEqual({ type: 'shell', command: '[bad' });
    expect((first('FROM a\nRUN ["a", "b"\n') as RunInstruction).command).toEqual({ type: 'shell', command: '["a", "b"' });
    expect((first("FROM a\nCMD ['single']\n") as CmdInstruction).command).toEqual({ type: 'shell', command: "['single']" });
    expect((first('FROM a\nCMD  [ "a" , "b c" ]  \n') as CmdInstruction).command).toEqual({ type: 'exec', args: ['a', 'b c'] });
    const copy = first('FROM a\nCOPY ["a b", "c"]\n') as CopyInstruction;
    expect(copy.sources).toEqual(['a b']);
    expect(copy.dest).toBe('c');
  });

  test('keywords are case-insensitive and keep their spelling', () => {
    const df = parseDockerfile('from a AS One\nrUn echo hi\n');
    expect(df.stages[0]!.name).toBe('One');
    expect(df.stages[0]!.from.keyword).toBe('from');
    expect(df.stages[0]!.instructions[0]!.keyword).toBe('rUn');
    expect(df.stages[0]!.instructions[0]!.kind).toBe('RUN');
  });

  test('a UTF-8 BOM is removed', () => {
    const df = parseDockerfile('\ufeffFROM a\nRUN x\n');
    expect(df.stages[0]!.from.image).toBe('a');
    expect(df.source.startsWith('FROM')).toBe(true);
  });

  test('directives only at the top, keys case-insensitive', () => {
    expect(parseDockerfile('# Escape=`\nFROM a\n').directives.escape).toBe('`');
    expect(parseDockerfile('#escape = `\nFROM a\n').directives.escape).toBe('`');
    expect(parseDockerfile('FROM a\n# escape=`\nRUN x\n').directives.escape).toBe('\\');
    expect(parseDockerfile('# hello\n# escape=`\nFROM a\n').directives.escape).toBe('\\');
    expect(parseDockerfile('\n# escape=`\nFROM a\n').directives.escape).toBe('\\');
    expect(parseDockerfile('# syntax=docker/dockerfile:1\n# check=error=true\nFROM a\n').directives).toEqual({
      escape: '\\',
      syntax: 'docker/dockerfile:1',
      check: 'error=true',
    });
  });

  test('continuations: comments and blank lines inside, escape char from the directive', () => {
    const df = parseDockerfile('FROM a\nRUN a \\\n  # c\n\n  b\n');
    const run = df.stages[0]!.instructions[0] as RunInstruction;
    expect(run.command).toEqual({ type: 'shell', command: 'a   b' });
    expect(run.range).toEqual({ startLine: 2, endLine: 5 });
    expect(df.diagnostics.map((d) => [d.rule, d.range?.startLine])).toEqual([['NoEmptyContinuation', 2]]);
    const bt = parseDockerfile('# escape=`\nFROM a\nRUN dir c:\\ `\n  /s\n');
    expect((bt.stages[0]!.instructions[0] as RunInstruction).command).toEqual({ type: 'shell', command: 'dir c:\\   /s' });
    // an escaped escape char does not continue the line; a lone escape char does
    const esc = parseDockerfile('FROM a\nRUN echo \\\\\nENV A=1\nRUN b \\\n\\\n c\n');
    expect(esc.stages[0]!.instructions.map((i) => i.original)).toEqual(['RUN echo \\\\', 'ENV A=1', 'RUN b  c']);
    // without a blank line there is no diagnostic
    expect(parseDockerfile('FROM a\nRUN a \\\n b\n').diagnostics).toEqual([]);
  });

  test('heredocs: several on a line, quoting, chomp, fd', () => {
    const run = first('FROM a\nRUN 3<<"A" cat <&3 && cat <<-B\nx $y\nA\n\t\tz\n\tB\nRUN next\n') as RunInstruction;
    expect(run.heredocs).toEqual([
      { name: 'A', content: 'x $y\n', expand: false, chomp: false, fileDescriptor: 3 },
      { name: 'B', content: 'z\n', expand: true, chomp: true },
    ]);
    expect(run.range).toEqual({ startLine: 2, endLine: 6 });
    expect(run.command).toEqual({ type: 'shell', command: '3<<"A" cat <&3 && cat <<-B' });
    // a backslash in the delimiter is removed but, unlike quotes, keeps expansion on
    expect((first('FROM a\nRUN <<E\\OF\nx\nEOF\n') as RunInstruction).heredocs).toEqual([{ name: 'EOF', content: 'x\n', expand: true, chomp: false }]);
    // not heredocs: quoted, or not a word of their own, or not RUN/COPY/ADD
    expect((first('FROM a\nRUN echo "<<EOF"\n') as RunInstruction).heredocs).toEqual([]);
    // a JSON-form RUN starts no heredoc, so the would-be body is read as instructions
    expect((first('FROM a\nRUN ["cat", "<<EOF"]\n') as RunInstruction).heredocs).toEqual([]);
    expect(failure('FROM a\nRUN ["cat", "<<EOF"]\nEOF\n').range?.startLine).toBe(3);
    expect((first('FROM a\nCMD cat <<EOF\n') as CmdInstruction).command).toEqual({ type: 'shell', command: 'cat <<EOF' });
    const copy = first("FROM a\nCOPY <<'X' b.txt /d/\n$HOME\nX\n") as CopyInstruction;
    expect(copy.sources).toEqual(['X', 'b.txt']);
    expect(copy.heredocs).toEqual([{ name: 'X', content: '$HOME\n', expand: false, chomp: false }]);
  });

  test('ARG: several per line, defaults, quotes kept', () => {
    const arg = first('FROM a\nARG A=1 B "C=x y" D= E\n');
    expect(arg).toMatchObject({ kind: 'ARG', args: [{ key: 'A', default: '1' }, { key: 'B' }, { key: '"C', default: 'x y"' }, { key: 'D', default: '' }, { key: 'E' }] });
  });

  test('flag extraction honours quotes and `--`', () => {
    expect(extractFlags('--chown="a b" --link src dst')).toEqual({ flags: ['chown=a b', 'link'], rest: 'src dst' });
    expect(extractFlags('-- --notaflag x')).toEqual({ flags: [], rest: '--notaflag x' });
    expect(extractFlags('--a=1')).toEqual({ flags: ['a=1'], rest: '' });
    expect(extractFlags('x --a=1')).toEqual({ flags: [], rest: 'x --a=1' });
    expect(extractFlags('--a=b\\ c d')).toEqual({ flags: ['a=b c'], rest: 'd' });
    expect(extractFlags('--a=b` c d', '`')).toEqual({ flags: ['a=b c'], rest: 'd' });
    expect(extractFlags("--a='x y'z --")).toEqual({ flags: ['a=x yz'], rest: '' });
  });

  test('ONBUILD keeps the trigger text and the parsed trigger', () => {
    const ob = first('FROM a\nONBUILD   RUN --network=none make\n');
    expect(ob).toMatchObject({ kind: 'ONBUILD', expression: 'RUN --network=none make', trigger: { kind: 'RUN', network: 'none' } });
  });

  test('instructions go to the stage they follow', () => {
    const df = parseDockerfile('ARG V=1\nFROM a AS x\nRUN one\nFROM x\nRUN two\nRUN three\n');
    expect(df.globalArgs.map((a) => a.range.startLine)).toEqual([1]);
    expect(df.stages.map((s) => [s.index, s.name, s.instructions.length])).toEqual([
      [0, 'x', 1],
      [1, undefined, 2],
    ]);
  });
});

describe('size limit', () => {
  test('a Dockerfile over 10 MiB is refused with a limit error, before it is read', async () => {
    const big = 'FROM a\n' + 'RUN true\n'.repeat((MAX_DOCKERFILE_BYTES / 9) | 0) + 'RUN true\n';
    expect(Buffer.byteLength(big)).toBeGreaterThan(MAX_DOCKERFILE_BYTES);
    let err: unknown;
    try {
      parseDockerfile(big);
    } catch (e) {
      err = e;
    }
    expect(isTbuildError(err, 'TB_PARSE_TOO_LARGE')).toBe(true);
    expect((err as Error).message).toMatch(/over the 10 MiB limit/);
    expect(() => parseDockerfile(big.slice(0, MAX_DOCKERFILE_BYTES))).not.toThrow();

    // the CLI checks the size on disk: a sparse 11 MiB file is refused without being read
    const dir = await mkdtemp(join(tmpdir(), 'tb-big-'));
    try {
      await truncate(await writeFile(join(dir, 'Dockerfile'), 'FROM a\n').then(() => join(dir, 'Dockerfile')), 11 * 1024 * 1024);
      const r = await runCli(['check', dir]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('over the 10 MiB limit');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

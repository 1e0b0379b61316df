/**
 * 10,000 generated and mutated Dockerfiles (seeded, so every run is the same): the parser and
 * resolver may only fail with a TbuildError, and must finish quickly.
 */
import { test, expect } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../support/cli.js';
import { parseDockerfile } from '../../src/parser/parse.js';
import { resolveDockerfile } from '../../src/parser/resolve.js';
import { parseMount } from '../../src/parser/mount.js';
import { TbuildError } from '../../src/errors.js';
import { prng } from '../support/prng.js';


const CORPUS = (() => {
  const dir = join(PROJECT_ROOT, 'testdata', 'parser');
  return readdirSync(dir).map((d) => readFileSync(join(dir, d, 'Dockerfile'), 'utf8'));
})();

const PIECES = [
  'FROM ', 'RUN ', 'COPY ', 'ADD ', 'ARG ', 'ENV ', 'LABEL ', 'CMD ', 'ENTRYPOINT ', 'SHELL ', 'ONBUILD ', 'HEALTHCHECK ',
  'EXPOSE ', 'VOLUME ', 'USER ', 'WORKDIR ', 'STOPSIGNAL ', 'MAINTAINER ', 'AS ', 'as x', '--mount=', 'type=cache,target=/c',
  '--from=', '--link', '--chmod=', '--platform=$BUILDPLATFORM ', '<<EOF', '<<-"EOF"', '\nEOF\n', '3<<X', '\\\n', '`\n', '\n',
  '\r\n', '# escape=`\n', '# syntax=x\n', '#', '"', "'", '[', ']', '["a", "b"]', '[1]', '{', '}', '$', '${', '${A:-', '}', '=',
  ' ', '\t', '\ufeff', 'é', '日本', '--', '--interval=', '1m30s', 'NONE', 'CMD', 'scratch', 'A=1', 'B="x y"', '--network=none',
  '--target=', 'from=', ',', '\\', '`', '\u0000', '\u2028',
];

function generate(rand: () => number): string {
  const n = 1 + Math.floor(rand() * 40);
  let s = rand() < 0.7 ? 'FROM busybox AS s\n' : '';
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(rand() * PIECES.length)]!;
  return s;
}

function mutate(text: string, rand: () => number): string {
  let s = text;
  const edits = 1 + Math.floor(rand() * 6);
  for (let i = 0; i < edits; i++) {
    let pos = Math.floor(rand() * (s.length + 1));
    if (rand() < 0.6) {
      // most edits land in an instruction's arguments, so the keyword survives and its parser runs
      const lineStart = s.lastIndexOf('\n', pos - 1) + 1;
      const space = s.indexOf(' ', lineStart);
      const lineEnd = s.indexOf('\n', lineStart);
      if (space >= 0 && (lineEnd < 0 || space < lineEnd)) pos = space + 1 + Math.floor(rand() * Math.max(1, (lineEnd < 0 ? s.length : lineEnd) - space));
    }
    const r = rand();
    if (r < 0.3) s = s.slice(0, pos) + s.slice(pos + 1 + Math.floor(rand() * 20));
    else if (r < 0.7) s = s.slice(0, pos) + PIECES[Math.floor(rand() * PIECES.length)]! + s.slice(pos);
    else if (r < 0.85) s = s.slice(0, pos) + String.fromCharCode(Math.floor(rand() * 128)) + s.slice(pos);
    else {
      // move a chunk elsewhere (reorders instructions and heredoc bodies)
      const len = Math.floor(rand() * 80);
      const chunk = s.slice(pos, pos + len);
      s = s.slice(0, pos) + s.slice(pos + len);
      const to = Math.floor(rand() * (s.length + 1));
      s = s.slice(0, to) + chunk + s.slice(to);
    }
  }
  return s;
}

test('10,000 generated and mutated Dockerfiles only ever fail with TbuildError', () => {
  const rand = prng(0x7b1d);
  const codes = new Map<string, number>();
  let ok = 0;
  const started = Date.now();
  let slowest = 0;
  for (let i = 0; i < 10_000; i++) {
    const text = i % 3 === 0 ? generate(rand) : mutate(CORPUS[Math.floor(rand() * CORPUS.length)]!, rand);
    const t0 = performance.now();
    try {
      const df = parseDockerfile(text);
      const r = resolveDockerfile(df, { target: rand() < 0.1 ? 's' : undefined, buildArgs: { A: 'x' } });
      for (const st of r.stages) {
        for (const ins of st.stage.instructions) if (ins.kind === 'RUN') for (const m of ins.mounts) {
          try {
            parseMount(m);
          } catch (err) {
            if (!(err instanceof TbuildError)) throw err;
          }
        }
      }
      ok++;
    } catch (err) {
      if (!(err instanceof TbuildError)) {
        throw new Error(`case ${i} threw a non-TbuildError: ${String(err)}\n--- input ---\n${JSON.stringify(text)}`);
      }
      codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
    }
    slowest = Math.max(slowest, performance.now() - t0);
  }
  if (process.env.FUZZ_VERBOSE) console.log(ok, Object.fromEntries(codes));
  // the corpus must keep exercising both paths
  expect(ok).toBeGreaterThan(1000);
  expect(codes.size).toBeGreaterThan(5);
  // a hang would show up here long before the test timeout
  expect(slowest).toBeLessThan(10_000);
  expect(Date.now() - started).toBeLessThan(150_000);
});

test('pathological lines stay linear', () => {
  const big = 100_000;
  const inputs = [
    `# syntax=x${' '.repeat(big)}y\nFROM a\n`,
    `FROM a\nRUN ${'\\ '.repeat(big)}x\n`,
    `FROM a\nRUN ${'\\' + ' '.repeat(big) + 'x'}\n`,
    `FROM a\nENV ${'A=1 '.repeat(big / 4)}\n`,
    `FROM a\nRUN ${'<<E '.repeat(2000)}\n${'E\n'.repeat(2000)}`,
    `FROM a\nCOPY ${'"'.repeat(big)} /x\n`,
    `FROM a\nLABEL ${"'".repeat(big)}\n`,
    `FROM a\nRUN --mount=${','.repeat(big)}target=/x true\n`,
    `FROM a\n${'RUN x \\\n'.repeat(big / 10)}\n`,
    `FROM a\nCMD [${'"a",'.repeat(big / 4)}"b"]\n`,
    `${'ARG A=$A$A\n'.repeat(2000)}FROM a\n`,
    `ARG A=x\n${'ARG A=$A$A\n'.repeat(60)}FROM a\n`,
  ];
  for (const text of inputs) {
    const t0 = performance.now();
    try {
      resolveDockerfile(parseDockerfile(text));
    } catch (err) {
      if (!(err instanceof TbuildError)) throw err;
    }
    // quadratic handling of 100,000 characters takes minutes; a loaded CI machine takes seconds at worst
    expect(performance.now() - t0, text.slice(0, 40)).toBeLessThan(20_000);
  }
});

import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, isRoot, mountsUnder } from '../../support/tmp.js';
import { runCli, BUSYBOX_TAR } from '../../support/cli.js';

describe.runIf(isRoot)('tbuild builds: the record every build leaves', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let root: string;
  const cli = (args: string[]) => runCli(args, { root });

  beforeAll(async () => {
    tmp = await tempDir('tbrec-');
    root = join(tmp.path, 'state');
    expect((await cli(['load', '-i', BUSYBOX_TAR])).code).toBe(0);
  });

  afterAll(async () => {
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  });

  async function context(name: string, dockerfile: string): Promise<string> {
    const dir = join(tmp.path, name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'Dockerfile'), dockerfile);
    return dir;
  }

  test('steps, args, result and the whole output of a step (3 MB, byte for byte)', async () => {
    const ctx = await context('big', 'FROM busybox:local\nARG FLAVOUR=plain\nRUN head -c 3000000 /dev/zero | tr "\\\\0" x; echo; echo done-$FLAVOUR\nRUN echo second\n');
    const b = await cli(['build', '-q', '--network', 'none', '--build-arg', 'FLAVOUR=mint', '-t', 'rec:1', ctx]);
    expect(b.code, b.stderr).toBe(0);
    const imageId = b.stdout.trim();
    const ls = await cli(['builds', 'ls', '--format', 'json']);
    const [summary] = ls.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(summary).toMatchObject({ status: 'completed', result: imageId, stepsCached: 1 });
    const rec = JSON.parse((await cli(['builds', 'inspect', 'last'])).stdout) as { id: string; args: Record<string, string>; tags: string[]; steps: Array<{ index: number; name: string; logBytes: number; durationMs?: number }> };
    expect(rec.args).toEqual({ FLAVOUR: 'mint' });
    expect(rec.tags).toEqual(['rec:1']);
    const run = rec.steps.find((s) => s.name.includes('RUN head'))!;
    expect(run.logBytes).toBe(3_000_000 + 1 + 'done-mint\n'.length);
    expect(run.durationMs).toBeGreaterThanOrEqual(0);
    const logs = await cli(['builds', 'logs', rec.id.slice(0, 8), '--step', String(run.index)]);
    expect(logs.stdout.length).toBe(run.logBytes);
    expect(logs.stdout.endsWith('x\ndone-mint\n')).toBe(true);
    expect((await cli(['builds', 'logs', 'last'])).stdout.endsWith('done-mint\nsecond\n')).toBe(true);
  }, 120_000);

  test('a failed build is recorded with its error; rm and prune', async () => {
    const ctx = await context('bad', 'FROM busybox:local\nRUN echo partial && exit 3\n');
    expect((await cli(['build', '-q', '--network', 'none', ctx])).code).not.toBe(0);
    const rec = JSON.parse((await cli(['builds', 'inspect', 'last'])).stdout) as { id: string; status: string; error: string; steps: Array<{ error?: string }> };
    expect(rec.status).toBe('failed');
    expect(rec.error).toContain('exit code: 3');
    expect(rec.steps.some((s) => s.error)).toBe(true);
    expect((await cli(['builds', 'logs', 'last'])).stdout).toBe('partial\n');
    expect((await cli(['builds', 'rm', rec.id])).code).toBe(0);
    expect((await cli(['builds', 'inspect', rec.id])).stderr).toContain(`no such build: ${rec.id}`);
    expect((await cli(['builds', 'prune', '-a'])).stdout).toBe('Removed 1 build record\n');
    expect((await cli(['builds', 'ls', '--format', 'json'])).stdout).toBe('');
    expect((await cli(['builds', 'logs', 'last'])).stderr).toContain('no build recorded yet');
  }, 120_000);

  test('build --trace writes Chrome trace events: a complete event per step, parallel stages on their own lanes', async () => {
    const ctx = await context(
      'par',
      'FROM busybox:local AS a\nRUN sleep 1 && echo a > /a\nFROM busybox:local AS b\nRUN sleep 1 && echo b > /b\nFROM busybox:local\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n',
    );
    const trace = join(tmp.path, 'trace.json');
    const b = await cli(['build', '-q', '--no-cache', '--network', 'none', '--trace', trace, ctx]);
    expect(b.code, b.stderr).toBe(0);
    const doc = JSON.parse(await readFile(trace, 'utf8')) as { traceEvents: Array<{ name: string; ph: string; ts: number; dur: number; tid: number; cat: string }> };
    const steps = doc.traceEvents.filter((e) => e.ph === 'X' && e.cat !== 'phase');
    for (const name of ['RUN sleep 1 && echo a', 'RUN sleep 1 && echo b', 'COPY --from=a', 'COPY --from=b']) expect(steps.some((e) => e.name.includes(name))).toBe(true);
    for (const e of steps) {
      expect(e.ts).toBeGreaterThanOrEqual(0);
      expect(e.dur).toBeGreaterThanOrEqual(0);
    }
    const runs = steps.filter((e) => e.name.includes('RUN sleep 1'));
    expect(runs[0]!.dur).toBeGreaterThanOrEqual(900_000);
    // the two stages ran at once, so they sit on different lanes
    expect(new Set(runs.map((e) => e.tid)).size).toBe(2);
    expect(doc.traceEvents.some((e) => e.ph === 'M' && e.name === 'thread_name')).toBe(true);
    // each RUN's phases sit on its track, inside it: snapshot prepare, runtime setup, the process, diff, commit
    const phases = doc.traceEvents.filter((e) => e.cat === 'phase');
    for (const run of runs) {
      const inside = phases.filter((p) => p.tid === run.tid && p.ts >= run.ts && p.ts + p.dur <= run.ts + run.dur + 1000);
      const names = inside.map((p) => p.name);
      for (const n of ['snapshot prepare', 'runtime setup', 'run', 'diff', 'commit']) expect(names, JSON.stringify(names)).toContain(n);
      // the process itself takes the second the step sleeps
      expect(inside.find((p) => p.name === 'run')!.dur).toBeGreaterThanOrEqual(900_000);
    }
    // the build's own phases (the context, the export) on the build's track
    const own = phases.filter((p) => p.tid === 0).map((p) => p.name);
    expect(own).toEqual(expect.arrayContaining(['context transfer', 'solve', 'export']));
  }, 120_000);
});

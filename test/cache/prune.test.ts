import { afterEach, beforeEach, expect, test } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Engine } from '../../src/engine.js';
import { BUSYBOX_TAR, PROJECT_ROOT, runCli } from '../support/cli.js';
import { tempDir, mountsUnder } from '../support/tmp.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let engine: Engine;
beforeEach(async () => {
  tmp = await tempDir('tb-prune-');
  engine = await Engine.open({ root: join(tmp.path, 'root') });
  await engine.load(createReadStream(BUSYBOX_TAR));
});
afterEach(async () => {
  await engine.close();
  expect(await mountsUnder(tmp.path)).toEqual([]);
  await tmp.cleanup();
});

async function context(name: string, dockerfile: string): Promise<string> {
  const dir = join(tmp.path, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Dockerfile'), dockerfile);
  return dir;
}

const step = (r: Awaited<ReturnType<Engine['build']>>, text: string) => r.steps.find((s) => s.name.includes(text));

test('builder prune frees what no image uses, keeps what images stand on, and the next build re-runs', async () => {
  const kept = await context('kept', 'FROM busybox:local\nRUN echo kept > /k\n');
  const gone = await context('gone', 'FROM busybox:local\nRUN head -c 300000 /dev/urandom > /blob\nRUN echo second > /s\n');
  await engine.build({ context: kept, tags: ['kept:1'] });
  await engine.build({ context: gone, tags: ['gone:1'] });
  await engine.images.remove('gone:1');

  // without --all only results nothing points at go; these still have cache records
  const dangling = await engine.pruneBuildCache();
  expect(dangling.CachesDeleted).toEqual([]);
  expect((await engine.df()).BuildCache!.length).toBeGreaterThanOrEqual(2);

  const all = await engine.pruneBuildCache({ all: true });
  expect(all.CachesDeleted.length).toBeGreaterThanOrEqual(2);
  expect(all.SpaceReclaimed).toBeGreaterThan(300_000);
  expect((await engine.df()).BuildCache).toEqual([]);

  // the kept image is whole: its cached step is still a hit, and the pruned one runs again
  const again = await engine.build({ context: kept, tags: ['kept:1'] });
  expect(step(again, 'RUN echo kept')?.cached).toBe(true);
  const rebuilt = await engine.build({ context: gone, tags: ['gone:1'] });
  expect(step(rebuilt, 'RUN head')?.cached).toBe(false);
});

test('until keeps recent cache; bad filters are refused; the CLI prints Docker\'s summary', async () => {
  const dir = await context('c', 'FROM busybox:local\nRUN echo c > /c\n');
  await engine.build({ context: dir, tags: ['c:1'] });
  await engine.images.remove('c:1');
  expect((await engine.pruneBuildCache({ all: true, until: '24h' })).CachesDeleted).toEqual([]);
  await expect(engine.pruneBuildCache({ until: 'yesterday' })).rejects.toMatchObject({ code: 'TB_INVALID_ARGUMENT' });
  await engine.close();
  const r = await runCli(['builder', 'prune', '-af'], { root: join(tmp.path, 'root') });
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^Deleted build cache objects:\n/);
  expect(r.stdout).toMatch(/Total reclaimed space: \S+\n$/);
  const bad = await runCli(['builder', 'prune', '-f', '--filter', 'type=regular'], { root: join(tmp.path, 'root') });
  expect(bad.code).not.toBe(0);
  expect(bad.stderr).toContain("invalid filter 'type=regular'");
  engine = await Engine.open({ root: join(tmp.path, 'root') });
});

test('a prune in another process never takes a result a running build found in the cache (leases)', async () => {
  const dir = await context('race', 'FROM busybox:local\nCOPY a /a\nCOPY b /b\nCOPY changes /changes\n');
  await writeFile(join(dir, 'a'), 'a'.repeat(100_000));
  await writeFile(join(dir, 'b'), 'b'.repeat(100_000));
  for (let i = 0; i < 2; i++) {
    await writeFile(join(dir, 'changes'), String(i));
    await engine.build({ context: dir, tags: ['race:1'] });
    // the COPY a and COPY b results are held only by their cache records now
    await engine.images.remove('race:1');
    await writeFile(join(dir, 'changes'), `${i}+`);
    // The moment the build reports its hit on COPY b, stop it (a synchronous child blocks this
    // process) while another process prunes everything: the next step must still find b.
    let pruned: ReturnType<typeof spawnSync> | undefined;
    const built = await engine.build({
      context: dir,
      tags: ['race:1'],
      onProgress: (e) => {
        if (e.type !== 'vertex' || !e.vertex.cached || !e.vertex.name.includes('COPY b') || pruned) return;
        pruned = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), join(PROJECT_ROOT, 'src', 'cli.ts'), '--root', join(tmp.path, 'root'), 'builder', 'prune', '-af'], { encoding: 'utf8' });
      },
    });
    expect(pruned?.status, String(pruned?.stderr)).toBe(0);
    // it freed what it could (the previous build's last layer), not what the build held
    expect(pruned?.stdout).toMatch(/Total reclaimed space: [1-9]/);
    expect(step(built, 'COPY b')?.cached).toBe(true);
    const img = await engine.images.get('race:1');
    for (const l of img!.layers) expect(await engine.snapshots.exists(l.snapshot)).toBe(true);
  }
  const report = await engine.verify();
  expect(report.problems).toEqual([]);
});

import { afterEach, beforeEach, expect, test } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../../src/engine.js';
import { BUSYBOX_TAR, runCli } from '../support/cli.js';
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

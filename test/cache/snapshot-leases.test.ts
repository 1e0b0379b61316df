import { describe, expect, test } from 'vitest';
import { spawn } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openSnapshotter } from '../../src/cache/snapshotter.js';
import { markPath } from '../../src/cache/snapshot-leases.js';
import { isTbuildError } from '../../src/errors.js';
import { ownedName } from '../../src/util/owned-temp.js';
import { PROJECT_ROOT } from '../support/paths.js';
import { tempDir } from '../support/tmp.js';

const TSX_LOADER = import.meta.resolve('tsx');

async function committed(s: Awaited<ReturnType<typeof openSnapshotter>>, name: string, parent?: string): Promise<void> {
  await s.prepare(`k-${name}`, parent);
  await s.commit(name, `k-${name}`);
}

async function idOf(root: string, name: string): Promise<number> {
  const meta = join(root, 'snapshots', 'metadata');
  for (const n of await readdir(meta)) {
    if (!/^\d+\.json$/.test(n)) continue;
    const { readFile } = await import('node:fs/promises');
    const rec = JSON.parse(await readFile(join(meta, n), 'utf8')) as { id: number; name: string };
    if (rec.name === name) return rec.id;
  }
  throw new Error(`no record for ${name}`);
}

describe('snapshot leases', () => {
  test('a leased snapshot (and what it stands on) cannot be removed until the lease is released', async () => {
    const t = await tempDir('tbs-lease-');
    try {
      const s = await openSnapshotter(t.path);
      await committed(s, 'base');
      await committed(s, 'top', 'base');
      const lease = s.lease();
      expect(await lease.add('top')).toBe(true);
      const err = await s.remove('top').catch((e: unknown) => e);
      expect(isTbuildError(err, 'TB_SNAPSHOT_STATE')).toBe(true);
      expect((err as Error).message).toMatch(/in use by a running build/);
      expect(isTbuildError(await s.remove('base').catch((e: unknown) => e), 'TB_SNAPSHOT_STATE')).toBe(true);
      // the failed removal left it whole and unmarked: a new lease still finds it
      const again = s.lease();
      expect(await again.add('top')).toBe(true);
      await again.release();
      await lease.release();
      await s.remove('top');
      await s.remove('base');
      expect(await lease.add('top')).toBe(false);
    } finally {
      await t.cleanup();
    }
  });

  test('a snapshot a live remover has marked is a miss for a new lease; a dead remover\'s mark holds nothing', async () => {
    const t = await tempDir('tbs-lease-');
    try {
      const s = await openSnapshotter(t.path);
      await committed(s, 'x');
      const id = await idOf(t.path, 'x');
      const mark = markPath(join(t.path, 'snapshots', 'metadata'), id);
      await writeFile(mark, ownedName('rm'));
      expect(await s.lease().add('x')).toBe(false);
      await writeFile(mark, 'rm-999999999.1-00');
      expect(await s.lease().add('x')).toBe(true);
      // check --repair tidies the dead mark away
      await s.check({ repair: true });
      expect((await readdir(join(t.path, 'snapshots', 'metadata'))).filter((n) => n.endsWith('.removing'))).toEqual([]);
    } finally {
      await t.cleanup();
    }
  });

  test('removals racing leases: every lease that says yes finds its snapshot still there', async () => {
    const t = await tempDir('tbs-lease-');
    try {
      const builder = await openSnapshotter(t.path);
      const pruner = await openSnapshotter(t.path);
      const outcomes = { held: 0, removed: 0, bothBackedOff: 0 };
      for (let i = 0; i < 60; i++) {
        const name = `r${i}`;
        await committed(builder, name);
        const lease = builder.lease();
        const [ok, gone] = await Promise.all([
          lease.add(name),
          pruner.remove(name).then(() => true, (e: unknown) => {
            if (!isTbuildError(e, 'TB_SNAPSHOT_STATE')) throw e;
            return false;
          }),
        ]);
        // never both: a lease that holds keeps it, a removal that went through was seen as a miss
        expect(ok && gone).toBe(false);
        // a snapshot nobody removed is whole, whether or not the lease got it
        expect(await pruner.exists(name)).toBe(!gone);
        if (ok) {
          outcomes.held++;
          await builder.prepare(`child-${name}`, name);
          await builder.remove(`child-${name}`);
        } else if (gone) outcomes.removed++;
        else outcomes.bothBackedOff++;
        await lease.release();
      }
      expect(outcomes.held + outcomes.removed + outcomes.bothBackedOff).toBe(60);
    } finally {
      await t.cleanup();
    }
  });

  test("another process's lease holds until that process dies, even by SIGKILL", async () => {
    const t = await tempDir('tbs-lease-');
    try {
      const s = await openSnapshotter(t.path);
      await committed(s, 'shared');
      const script = `
        const { openSnapshotter } = await import(${JSON.stringify(pathToFileURL(join(PROJECT_ROOT, 'src/cache/snapshotter.ts')).href)});
        const s = await openSnapshotter(${JSON.stringify(t.path)});
        const ok = await s.lease().add('shared');
        process.stdout.write(ok ? 'held\\n' : 'missed\\n');
        setInterval(() => {}, 1000);
      `;
      const child = spawn(process.execPath, ['--import', TSX_LOADER, '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise((r) => child.on('exit', r));
      try {
        const first = await new Promise<string>((resolve, reject) => {
          child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()));
          child.once('exit', () => reject(new Error('the leasing process exited early')));
        });
        expect(first).toBe('held');
        const err = await s.remove('shared').catch((e: unknown) => e);
        expect(isTbuildError(err, 'TB_SNAPSHOT_STATE')).toBe(true);
      } finally {
        child.kill('SIGKILL');
        await exited;
      }
      await s.remove('shared');
      expect(await s.exists('shared')).toBe(false);
      // the next open sweeps the dead lease file
      await openSnapshotter(t.path);
      expect(await readdir(join(t.path, 'snapshots', 'leases'))).toEqual([]);
    } finally {
      await t.cleanup();
    }
  });
});

import { describe, test, expect, beforeEach, afterEach } from 'vitest';
import { Writable, Readable } from 'node:stream';
import { join } from 'node:path';
import tar from 'tar-stream';
import { tempDir, isRoot, mountsUnder } from '../support/tmp.js';
import { runcContainers } from '../exec/support/rootfs.js';
import { openParts, loadBusybox, processesMentioning, openManager } from './support/engine.js';
import type { LocalContainerManager } from '../../src/containers/manager.js';

async function entries(stream: Readable): Promise<Map<string, { type: string; body: string; mode: number }>> {
  const out = new Map<string, { type: string; body: string; mode: number }>();
  const ex = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, s, next) => {
      const chunks: Buffer[] = [];
      s.on('data', (d: unknown) => {
        chunks.push(d as Buffer);
      });
      s.on('end', () => {
        out.set(h.name.replace(/\/$/, ''), { type: h.type ?? 'file', body: Buffer.concat(chunks).toString(), mode: h.mode ?? 0 });
        next();
      });
      s.resume();
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  stream.pipe(ex);
  await done;
  return out;
}

function tarOf(files: Record<string, string>): Readable {
  const pack = tar.pack();
  for (const [name, body] of Object.entries(files)) pack.entry({ name, mode: 0o644 }, body);
  pack.finalize();
  return pack as unknown as Readable;
}

const quiet = () => new Writable({ write: (_c, _e, cb) => cb() });

describe.runIf(isRoot)('container filesystem: export, cp out/in', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let mgr: LocalContainerManager;

  beforeEach(async () => {
    tmp = await tempDir('tbf-');
    const parts = await openParts(tmp.path);
    await loadBusybox(parts);
    mgr = await openManager(parts);
  });

  afterEach(async () => {
    for (const c of await mgr.list({ all: true })) await mgr.remove(c.id, { force: true });
    await mgr.close();
    expect(await runcContainers(join(tmp.path, 'runc'))).toEqual([]);
    expect(await mountsUnder(tmp.path)).toEqual([]);
    for (let i = 0; i < 50 && (await processesMentioning(tmp.path)).length; i++) await new Promise((r) => setTimeout(r, 100));
    await tmp.cleanup();
  });

  test('stopped container: export, getArchive and putArchive mount temporarily and unmount', async () => {
    const c = await mgr.create({ image: 'busybox:local', cmd: ['sh', '-c', 'mkdir -p /d/sub && echo one > /d/sub/f && ln -s sub/f /d/link'] });
    await mgr.start(c.id, { stdout: quiet(), stderr: quiet() });
    expect(await mgr.wait(c.id)).toEqual({ exitCode: 0 });

    const all = await entries(await mgr.export(c.id));
    expect(all.get('d/sub/f')?.body).toBe('one\n');
    expect(all.get('bin/busybox')?.type).toBe('file');

    const { tar: t, stat } = await mgr.getArchive(c.id, '/d');
    expect(stat.name).toBe('d');
    expect(stat.mode & 0o170000).toBe(0o040000);
    const got = await entries(t);
    expect([...got.keys()].sort()).toEqual(['d', 'd/link', 'd/sub', 'd/sub/f']);
    expect(got.get('d/link')?.type).toBe('symlink');

    const link = await mgr.getArchive(c.id, '/d/link');
    expect(link.stat.linkTarget).toBe('sub/f');
    link.tar.resume();

    await mgr.putArchive(c.id, '/d', tarOf({ 'new.txt': 'put\n' }));
    await expect(mgr.getArchive(c.id, '/nope')).rejects.toThrow(/Could not find the file \/nope/);
    const back = await entries((await mgr.getArchive(c.id, '/d/new.txt')).tar);
    expect(back.get('new.txt')?.body).toBe('put\n');
    // give the temporary mounts a moment to be released after their streams end
    for (let i = 0; i < 20 && (await mountsUnder(tmp.path)).length; i++) await new Promise((r) => setTimeout(r, 50));
  });

  test('running container: cp in is visible to the process', async () => {
    const c = await mgr.create({ image: 'busybox:local', cmd: ['sh', '-c', 'while [ ! -f /tmp/go ]; do sleep 0.1; done; cat /tmp/go'] });
    const out: Buffer[] = [];
    await mgr.start(c.id, { stdout: new Writable({ write: (d, _e, cb) => (out.push(Buffer.from(d)), cb()) }) });
    await mgr.putArchive(c.id, '/tmp', tarOf({ go: 'went\n' }));
    expect(await mgr.wait(c.id)).toEqual({ exitCode: 0 });
    expect(Buffer.concat(out).toString()).toBe('went\n');
  });
  test('a cp-out stream destroyed early (HEAD, client gone) stops its producer and releases the mount', async () => {
    const c = await mgr.create({ image: 'busybox:local', cmd: ['true'] });
    await mgr.start(c.id, { stdout: quiet(), stderr: quiet() });
    expect(await mgr.wait(c.id)).toEqual({ exitCode: 0 });
    const errors: unknown[] = [];
    const onError = (e: unknown) => errors.push(e);
    process.on('uncaughtException', onError);
    try {
      for (const path of ['/bin', '/bin/busybox']) {
        const { tar: t } = await mgr.getArchive(c.id, path);
        t.on('error', () => {});
        // a first chunk, so the producer is mid-entry, then the consumer leaves
        await new Promise((r) => t.once('readable', r));
        t.destroy();
      }
      for (let i = 0; i < 40 && (await mountsUnder(tmp.path)).length; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await mountsUnder(tmp.path)).toEqual([]);
    } finally {
      process.off('uncaughtException', onError);
    }
    expect(errors).toEqual([]);
  });
});

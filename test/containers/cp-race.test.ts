import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import { pack } from 'tar-stream';
import { isRoot, mountsUnder, tempDir } from '../support/tmp.js';
import { BUSYBOX_TAR } from '../support/cli.js';
import { startChildDaemon, type ChildDaemon } from '../daemon/support/child-daemon.js';

const ROUNDS = Number(process.env.TBUILD_CP_RACE_ROUNDS ?? 150);

function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
  });
}

function tarWith(name: string): Readable {
  const p = pack();
  p.entry({ name }, 'written by docker cp\n');
  p.finalize();
  return p as unknown as Readable;
}

/**
 * CVE-2018-15664: a container swaps a path component between a directory and a symlink to `/`
 * while `docker cp` runs in both directions. Host canaries sit where an escaped copy would land.
 */
describe.runIf(isRoot)('docker cp against a symlink-swapping container', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let d: ChildDaemon;
  let api: Docker;
  let canaryDir: string;

  beforeAll(async () => {
    tmp = await tempDir('tbrace-');
    canaryDir = join(tmp.path, 'canary');
    await mkdir(join(canaryDir, 'putdir'), { recursive: true });
    await writeFile(join(canaryDir, 'secret'), 'HOST-SECRET\n');
    d = await startChildDaemon(join(tmp.path, 'daemon'));
    api = new Docker({ socketPath: d.socket });
    const s = await api.loadImage(createReadStream(BUSYBOX_TAR));
    await readAll(s);
  }, 120_000);

  afterAll(async () => {
    if (d) {
      for (const c of await api.listContainers({ all: true })) await api.getContainer(c.Id).remove({ force: true }).catch(() => {});
      expect(await d.stop()).toBe(0);
    }
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  }, 60_000);

  test(`${ROUNDS} copies each way never read or write outside the container root`, async () => {
    // Inside: /realdir<canary> and /<canary> are the container's own copies; /swap flips between
    // the directory /realdir and a symlink to / (renames, as fast as the shell goes).
    const c = canaryDir;
    const setup = [
      `mkdir -p /realdir${c}/putdir ${c}/putdir`,
      `echo inside-realdir > /realdir${c}/secret`,
      `echo inside-root > ${c}/secret`,
      'ln -s / /link',
      'touch /ready',
      'while :; do mv /realdir /swap; mv /swap /realdir; mv /link /swap; mv /swap /link; done',
    ].join(' && ');
    const ctr = await api.createContainer({ Image: 'busybox:local', Cmd: ['sh', '-c', setup] });
    await ctr.start();
    for (let i = 0; i < 600; i++) {
      const ok = await ctr.infoArchive({ path: '/ready' }).then(() => true, () => false);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const seen = new Map<string, number>();
    let hostReads = 0;
    const errors: string[] = [];
    const one = async (i: number) => {
      // GET through the flipping component: the container's file, or not found, never the host's.
      const got = await ctr.getArchive({ path: `/swap${c}/secret` }).then(readAll).catch((e: unknown) => void errors.push(String(e)));
      if (got) {
        const text = got.includes('HOST-SECRET') ? 'HOST' : got.includes('inside-realdir') ? 'realdir' : got.includes('inside-root') ? 'root' : 'other';
        seen.set(text, (seen.get(text) ?? 0) + 1);
        if (text === 'HOST') hostReads++;
      }
      await ctr.putArchive(tarWith(`pwned-${i}`), { path: `/swap${c}/putdir` }).catch(() => undefined);
    };
    const workers = 6;
    let next = 0;
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (next < ROUNDS) await one(next++);
      }),
    );
    await ctr.remove({ force: true });
    // One assertion with every finding, so a failure says which kind it was.
    expect({
      hostReads,
      writtenOnHost: await readdir(join(canaryDir, 'putdir')),
      otherContent: [...seen.keys()].filter((k) => k !== 'realdir' && k !== 'root'),
      // the only failures allowed are "not found" (the flip caught mid-rename)
      unexpectedErrors: errors.filter((e) => !e.includes('Could not find the file')).slice(0, 5),
    }).toEqual({ hostReads: 0, writtenOnHost: [], otherContent: [], unexpectedErrors: [] });
    // the race was really run: both sides of the flip were hit
    expect(seen.get('realdir') ?? 0).toBeGreaterThan(0);
  }, 300_000);

  test('docker export of a running container holds it frozen until the tar is read', async () => {
    const ctr = await api.createContainer({ Image: 'busybox:local', Cmd: ['sh', '-c', 'echo alive > /alive; sleep 600'] });
    await ctr.start();
    try {
      for (let i = 0; i < 600 && !(await ctr.infoArchive({ path: '/alive' }).then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 100));
      const tar = (await ctr.export()) as unknown as NodeJS.ReadableStream;
      // frozen while the tar is being made (the freezer shows as paused, as for docker cp)
      expect((await ctr.inspect()).State.Paused).toBe(true);
      const bytes = await readAll(tar);
      expect(bytes.includes(Buffer.from('alive\n'))).toBe(true);
      let paused = true;
      for (let i = 0; i < 100 && paused; i++) {
        paused = (await ctr.inspect()).State.Paused;
        if (paused) await new Promise((r) => setTimeout(r, 50));
      }
      expect(paused).toBe(false);
      expect((await ctr.inspect()).State.Running).toBe(true);
    } finally {
      await ctr.remove({ force: true });
    }
  }, 120_000);
});

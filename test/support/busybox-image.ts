import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, readFileSync, renameSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from './paths.js';

/**
 * The suite's base image, `busybox:local`: Debian's busybox-static imported with `tbuild import`
 * (fixed SOURCE_DATE_EPOCH, CMD ["/bin/sh"], Docker's PATH), saved as a docker-archive once per
 * busybox binary under the temp dir. Tests never depend on anything outside the project.
 */
const BUSYBOX_BIN = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
const binaryHash = BUSYBOX_BIN ? createHash('sha256').update(readFileSync(BUSYBOX_BIN)).digest('hex').slice(0, 16) : 'missing';
export const BUSYBOX_TAR = join(tmpdir(), `tbuild-test-busybox-${binaryHash}-v1.tar`);
export const BUSYBOX_EPOCH = 1700000000;

/** Make the archive if it is not there yet (vitest's globalSetup calls this once per run). */
export async function ensureBusyboxArchive(): Promise<void> {
  if (existsSync(BUSYBOX_TAR)) return;
  if (!BUSYBOX_BIN) throw new Error('busybox-static is not installed (scripts/setup.sh installs it)');
  const work = await mkdtemp(join(tmpdir(), 'tbuild-bbimg-'));
  try {
    const rootfs = join(work, 'rootfs.tar');
    execFileSync('bash', [join(PROJECT_ROOT, 'scripts', 'make-busybox-rootfs.sh'), rootfs]);
    const { Engine } = await import('../../src/engine.js');
    const engine = await Engine.open({ root: join(work, 'root'), sourceDateEpoch: BUSYBOX_EPOCH });
    try {
      await engine.importImage(createReadStream(rootfs), {
        name: 'docker.io/library/busybox:local',
        changes: ['ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'CMD ["/bin/sh"]'],
      });
      const { writeStreamAtomic } = await import('../../src/util/atomic.js');
      const partial = `${BUSYBOX_TAR}.${process.pid}`;
      await writeStreamAtomic(partial, await engine.save(['busybox:local']));
      renameSync(partial, BUSYBOX_TAR);
    } finally {
      await engine.close();
    }
  } finally {
    await rm(join(work), { recursive: true, force: true });
  }
}

/**
 * `busybox:arm64`: the same Debian busybox-static built for arm64 (fetched by
 * scripts/fetch-foreign-busybox.sh with apt, signatures checked), imported with
 * `--platform linux/arm64`. Its RUN steps need an emulator (qemu-user-static, set up by
 * scripts/setup.sh). Made once per host busybox version, on first use.
 */
export const FOREIGN_BUSYBOX_TAR = join(tmpdir(), `tbuild-test-busybox-arm64-${binaryHash}-v1.tar`);

export async function ensureForeignBusyboxArchive(): Promise<string> {
  if (existsSync(FOREIGN_BUSYBOX_TAR)) return FOREIGN_BUSYBOX_TAR;
  const work = await mkdtemp(join(tmpdir(), 'tbuild-bbimg-arm64-'));
  try {
    const binary = join(work, 'busybox');
    execFileSync('bash', [join(PROJECT_ROOT, 'scripts', 'fetch-foreign-busybox.sh'), 'arm64', binary], { stdio: ['ignore', 'ignore', 'pipe'] });
    const rootfs = join(work, 'rootfs.tar');
    execFileSync('bash', [join(PROJECT_ROOT, 'scripts', 'make-busybox-rootfs.sh'), rootfs, binary]);
    const { Engine } = await import('../../src/engine.js');
    const engine = await Engine.open({ root: join(work, 'root'), sourceDateEpoch: BUSYBOX_EPOCH });
    try {
      await engine.importImage(createReadStream(rootfs), {
        name: 'docker.io/library/busybox:arm64',
        platform: 'linux/arm64',
        changes: ['ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'CMD ["/bin/sh"]'],
      });
      const { writeStreamAtomic } = await import('../../src/util/atomic.js');
      const partial = `${FOREIGN_BUSYBOX_TAR}.${process.pid}`;
      await writeStreamAtomic(partial, await engine.save(['busybox:arm64']));
      renameSync(partial, FOREIGN_BUSYBOX_TAR);
    } finally {
      await engine.close();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return FOREIGN_BUSYBOX_TAR;
}

export interface BusyboxFacts {
  /** Image id (config digest). */
  id: string;
  /** The one layer's diffID. */
  diffId: string;
  /** Uncompressed layer size in bytes. */
  size: number;
  /** Bytes of the layer's files and symlinks (hard links once): Docker's size of the image. */
  contentSize: number;
}

let facts: BusyboxFacts | undefined;

/** Digests and size of the suite's busybox image, read from the archive's own bytes. */
export function busyboxFacts(): BusyboxFacts {
  if (facts) return facts;
  const list = execFileSync('tar', ['-tvf', BUSYBOX_TAR], { encoding: 'utf8' });
  const manifest = JSON.parse(execFileSync('tar', ['-xOf', BUSYBOX_TAR, 'manifest.json'], { encoding: 'utf8' })) as Array<{ Config: string; Layers: string[] }>;
  const entry = manifest[0]!;
  const config = execFileSync('tar', ['-xOf', BUSYBOX_TAR, entry.Config]);
  const diffId = (JSON.parse(config.toString()) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids[0]!;
  const layerLine = list.split('\n').find((l) => l.endsWith(` ${entry.Layers[0]}`))!;
  const size = Number(layerLine.trim().split(/\s+/)[2]);
  let contentSize = 0;
  // the layer's own listing: regular files by size, symlinks by the length of their target
  for (const line of execFileSync('sh', ['-c', 'tar -xOf "$0" "$1" | tar -tv', BUSYBOX_TAR, entry.Layers[0]!], { encoding: 'utf8' }).split('\n')) {
    if (line.startsWith('-')) contentSize += Number(line.trim().split(/\s+/)[2]);
    else if (line.startsWith('l')) contentSize += Buffer.byteLength(line.slice(line.lastIndexOf(' -> ') + 4));
  }
  facts = { id: `sha256:${createHash('sha256').update(config).digest('hex')}`, diffId, size, contentSize };
  return facts;
}

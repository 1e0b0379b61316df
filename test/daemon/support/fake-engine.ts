import type { ServerVersion } from '../../../src/api/types.js';
import { systemInfo, versionBody } from '../../../src/api/system-info.js';
import { createHash } from 'node:crypto';
import { createGunzip } from 'node:zlib';
import { PassThrough, Readable } from 'node:stream';
import { extract } from 'tar-stream';
import { TbuildError } from '../../../src/errors.js';
import type { BuildOptions, BuildResult, StepTiming } from '../../../src/build/types.js';
import type { Digest } from '../../../src/util/digest.js';
import type { DaemonArchives, DaemonEngine, DaemonServices, DaemonVolumes, VolumeInfo } from '../../../src/daemon/types.js';
import { FakeImageStore, testImageConfig } from './fake-images.js';
import { systemDf } from '../../../src/api/disk-usage.js';
import type { BuildCachePruneRequest, BuildCachePruneResult, SystemDf } from '../../../src/api/types.js';
import { FakeContainerManager } from './fake-containers.js';

/** Read a tar context (plain or gzip) into a map of file → text. Throws if the stream is cut off. */
export async function readContext(tar: Readable): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const ex = extract();
  const first = await new Promise<Buffer>((resolve, reject) => {
    tar.once('data', (d) => {
      tar.pause();
      resolve(d as Buffer);
    });
    tar.once('end', () => resolve(Buffer.alloc(0)));
    tar.once('error', reject);
  });
  const src = new PassThrough();
  src.write(first);
  tar.pipe(src);
  tar.once('error', (e) => src.destroy(e));
  tar.once('aborted', () => src.destroy(new Error('context upload aborted')));
  const body = first[0] === 0x1f && first[1] === 0x8b ? src.pipe(createGunzip()) : src;
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        if (header.type === 'file') files.set(header.name.replace(/^\.\//, ''), Buffer.concat(chunks).toString());
        next();
      });
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
    src.on('error', reject);
    body.on('error', reject);
  });
  body.pipe(ex);
  await done;
  return files;
}

/**
 * A solver double: reads the tar context, walks the Dockerfile's lines as steps (reporting
 * progress events as the real solver does) and records an image. `RUN echo X` logs X,
 * `RUN exit N` fails with TB_EXEC_NONZERO.
 */
export class FakeEngine implements DaemonEngine {
  readonly root: string;
  readonly images = new FakeImageStore();
  readonly containers: FakeContainerManager;
  builds = 0;

  constructor(root: string) {
    this.root = root;
    this.containers = new FakeContainerManager(this.images);
  }

  prunes: BuildCachePruneRequest[] = [];
  async pruneBuildCache(opts: BuildCachePruneRequest): Promise<BuildCachePruneResult> {
    this.prunes.push(opts);
    return { CachesDeleted: [], SpaceReclaimed: 0 };
  }

  df(): Promise<SystemDf> {
    return systemDf({ images: this.images, containers: this.containers });
  }

  async version(): Promise<ServerVersion> {
    return { Where: 'fake', ...((await versionBody('runc')) as Omit<ServerVersion, 'Where'>) };
  }

  async info(): Promise<Record<string, unknown>> {
    return systemInfo({
      root: this.root,
      runtime: 'runc',
      containers: await this.containers.list({ all: true }),
      images: (await this.images.list()).length,
      volumes: 0,
      buildCacheBytes: 0,
      insecureRegistries: [],
      mirrors: [],
      settings: {},
    });
  }

  async build(opts: BuildOptions): Promise<BuildResult> {
    this.builds++;
    if (typeof opts.context === 'string') throw new Error('fake engine only takes tar contexts');
    const files = await readContext(opts.context.tar);
    const name = opts.dockerfile ?? 'Dockerfile';
    const text = files.get(name);
    if (text === undefined) throw new TbuildError('TB_CONTEXT_INVALID', `failed to read dockerfile: open ${name}: no such file or directory`);
    let lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    if (opts.target) {
      const idx = lines.findIndex((l) => new RegExp(`^FROM .* AS ${opts.target}$`, 'i').test(l));
      if (idx < 0) throw new TbuildError('TB_STAGE_NOT_FOUND', `failed to reach build target ${opts.target} in Dockerfile`);
      const next = lines.findIndex((l, i) => i > idx && /^FROM /i.test(l));
      lines = lines.slice(0, next < 0 ? undefined : next);
    }
    const steps: StepTiming[] = [];
    for (const [i, rawLine] of lines.entries()) {
      const line = rawLine.replace(/\$\{?(\w+)\}?/g, (m, v: string) => opts.buildArgs?.[v] ?? m);
      const id = `sha256:${createHash('sha256').update(`${i}${line}${opts.noCache ? Math.random() : ''}`).digest('hex')}` as Digest;
      const vname = `[stage-0 ${i + 1}/${lines.length}] ${line}`;
      const started = Date.now();
      opts.onProgress?.({ type: 'vertex', vertex: { id, name: vname, inputs: [], started } });
      const run = /^RUN (.*)$/i.exec(line);
      if (run) {
        const cmd = run[1]!;
        const exit = /^exit (\d+)$/.exec(cmd);
        if (exit && Number(exit[1]) !== 0) {
          opts.onProgress?.({ type: 'vertex', vertex: { id, name: vname, inputs: [], started, completed: Date.now(), error: 'exit' } });
          throw new TbuildError('TB_EXEC_NONZERO', `process "/bin/sh -c ${cmd}" did not complete successfully: exit code: ${exit[1]}`, {
            details: { exitCode: Number(exit[1]), command: ['/bin/sh', '-c', cmd] },
          });
        }
        const echo = /^echo (.*)$/.exec(cmd);
        if (echo) opts.onProgress?.({ type: 'log', vertex: id, stream: 'stdout', data: Buffer.from(`${echo[1]}\n`), timestamp: Date.now() });
      }
      opts.onProgress?.({ type: 'vertex', vertex: { id, name: vname, inputs: [], started, completed: Date.now() } });
      steps.push({ vertex: id, name: vname, cached: false, duration: Date.now() - started });
      if (opts.signal?.aborted) throw new TbuildError('TB_BUILD_CANCELLED', 'build cancelled');
    }
    const img = await this.images.create({
      ...testImageConfig({ labels: opts.labels, salt: lines.join('\n') }),
      names: opts.tags,
    });
    return { imageId: img.id, digest: img.id, image: img, steps };
  }
}

export class FakeVolumes implements DaemonVolumes {
  vols = new Map<string, VolumeInfo>();

  async create(name: string | undefined, labels: Record<string, string>) {
    const n = name ?? createHash('sha256').update(String(Math.random())).digest('hex');
    const existing = this.vols.get(n);
    if (existing) return { info: existing, created: false };
    const info: VolumeInfo = { Name: n, Driver: 'local', Mountpoint: `/fake/volumes/${n}/_data`, CreatedAt: new Date().toISOString(), Labels: labels, Scope: 'local', Options: {} };
    this.vols.set(n, info);
    return { info, created: true };
  }
  async list() {
    return [...this.vols.values()];
  }
  async inspect(name: string) {
    const v = this.vols.get(name);
    if (!v) throw new TbuildError('TB_VOLUME_NOT_FOUND', `get ${name}: no such volume`);
    return v;
  }
  async remove(name: string) {
    await this.inspect(name);
    this.vols.delete(name);
  }
  async inUse(_name: string) {
    return false;
  }

  async prune(_opts: { all?: boolean }) {
    const deleted = [...this.vols.keys()];
    this.vols.clear();
    return { deleted, spaceReclaimed: 0 };
  }
}

/** Archives double: save writes a tar naming the images; load reads such a tar back. */
export class FakeArchives implements DaemonArchives {
  constructor(private engine: FakeEngine) {}
  async save(refs: string[]): Promise<Readable> {
    const { pack } = await import('tar-stream');
    const p = pack();
    p.entry({ name: 'names.json' }, JSON.stringify(refs));
    p.finalize();
    return p as unknown as Readable;
  }
  async load(tar: Readable): Promise<string[]> {
    const files = await readContext(tar);
    const names = JSON.parse(files.get('names.json') ?? '[]') as string[];
    for (const n of names) await this.engine.images.create({ ...testImageConfig({ salt: n }), names: [n] });
    return names;
  }
}

export function fakeServices(root: string): DaemonServices & { engine: FakeEngine } {
  const engine = new FakeEngine(root);
  return { engine, volumes: new FakeVolumes(), archives: new FakeArchives(engine) };
}

import { describe, test, expect, afterAll } from 'vitest';
import { mkdir, writeFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { errorFromResponse } from '../../../src/cli/remote/client.js';
import { recordFromApi } from '../../../src/cli/remote/images.js';
import { createBody, containerFromApi } from '../../../src/cli/remote/container-shapes.js';
import { contextTar } from '../../../src/cli/remote/context-tar.js';
import { createOptionsFromBody } from '../../../src/daemon/create-options.js';
import { imageInspect, imageHistory } from '../../../src/api/shapes/images.js';
import { containerInspect } from '../../../src/api/shapes/containers.js';
import type { ImageRecord } from '../../../src/images/types.js';
import type { ContainerRecord, CreateContainerOptions } from '../../../src/containers/types.js';
import type { Digest } from '../../../src/util/digest.js';
import { tempDir } from '../../support/tmp.js';

const d = (c: string) => `sha256:${c.repeat(64)}` as Digest;

describe('status → error code', () => {
  test.each([
    [404, 'No such image: x', '/containers/create', 'TB_IMAGE_NOT_FOUND'],
    [404, 'No such container: x', '/containers/x/json', 'TB_CONTAINER_NOT_FOUND'],
    [404, 'whatever', '/images/x/json', 'TB_IMAGE_NOT_FOUND'],
    [404, 'whatever', '/exec/x/json', 'TB_CONTAINER_NOT_FOUND'],
    [404, 'page not found', '/nope', 'TB_API_NOT_FOUND'],
    [409, 'conflict: unable to delete 23db32b8654f (must be forced) - image is being used by stopped container 1', '/images/x', 'TB_IMAGE_IN_USE'],
    [409, 'Conflict. The container name "/a" is already in use by container "b"', '/containers/create', 'TB_CONTAINER_NAME_IN_USE'],
    [409, 'Container x is not running', '/containers/x/exec', 'TB_CONTAINER_STATE'],
    [409, 'volume v is in use', '/volumes/v', 'TB_VOLUME_IN_USE'],
    [400, 'invalid filter', '/images/json', 'TB_INVALID_ARGUMENT'],
    [500, 'boom', '/build', 'TB_INTERNAL'],
  ])('%i %s on %s → %s', (status, message, path, code) => {
    const err = errorFromResponse(status, message, `/v1.47${path}`);
    expect(err.code).toBe(code);
    expect(err.message).toBe(message);
  });
});

describe('API shapes read back into records', () => {
  const img: ImageRecord = {
    id: d('a'),
    config: {
      architecture: 'amd64',
      os: 'linux',
      created: '2026-01-02T03:04:05Z',
      config: { Env: ['A=1'], Cmd: ['sh'], WorkingDir: '/w', Labels: { l: 'v' } },
      rootfs: { type: 'layers', diff_ids: [d('1'), d('2'), d('3')] },
      history: [
        { created: '2026-01-02T03:04:00Z', created_by: 'ADD rootfs.tar /' },
        { created: '2026-01-02T03:04:01Z', created_by: 'ENV A=1', empty_layer: true },
        { created: '2026-01-02T03:04:02Z', created_by: 'RUN /bin/sh -c true' },
        { created: '2026-01-02T03:04:03Z', created_by: 'COPY x /x', comment: 'buildkit.dockerfile.v0' },
        { created: '2026-01-02T03:04:05Z', created_by: 'CMD ["sh"]', empty_layer: true },
      ],
    },
    layers: [
      { diffId: d('1'), size: 1000, snapshot: 's1' },
      { diffId: d('2'), size: 0, snapshot: 's2' },
      { diffId: d('3'), size: 20, snapshot: 's3' },
    ],
    names: ['docker.io/library/app:1', 'reg.example:5000/team/app:2'],
    repoDigests: [],
    created: '2026-01-02T03:05:00Z',
  };

  test('an image (with a 0-byte RUN layer) survives inspect + history', () => {
    const back = recordFromApi(imageInspect(img, '1.47') as never, imageHistory(img) as never);
    expect(back).toEqual({ ...img, layers: img.layers.map((l) => ({ ...l, snapshot: '' })) });
  });

  test('container create options survive createBody → the daemon parser; inspect reads back', () => {
    const opts: CreateContainerOptions = {
      image: 'busybox:local',
      name: 'c1',
      cmd: ['sh', '-c', 'x'],
      entrypoint: [''],
      env: ['A=1'],
      workingDir: '/w',
      user: '1:2',
      tty: true,
      openStdin: true,
      stdinOnce: true,
      labels: { a: 'b' },
      hostname: 'h',
      network: 'none',
      mounts: [
        { type: 'bind', source: '/src', target: '/dst', readonly: true },
        { type: 'volume', source: '', target: '/anon', readonly: false },
      ],
      autoRemove: true,
      resources: { memory: 64 << 20, cpuQuota: 50_000, cpuPeriod: 100_000, cpuShares: 512, pidsLimit: 10 },
    };
    expect(createOptionsFromBody(createBody(opts), 'c1')).toEqual(opts);
    const rec: ContainerRecord = {
      id: 'f'.repeat(64),
      name: 'c1',
      image: 'busybox:local',
      imageId: d('a'),
      created: '2026-01-02T03:04:05.123Z',
      options: opts,
      path: 'sh',
      args: ['-c', 'x'],
      env: ['A=1', 'PATH=/bin'],
      workingDir: '/w',
      user: '1:2',
      state: { status: 'exited', pid: 0, exitCode: 3, oomKilled: false, error: '', startedAt: '2026-01-02T03:04:06Z', finishedAt: '2026-01-02T03:04:07Z', restartCount: 0 },
      snapshotKey: 'k',
      logPath: '/l',
    };
    const back = containerFromApi(containerInspect(rec, undefined, []) as never);
    expect(back).toMatchObject({ ...rec, snapshotKey: '', options: { ...opts, env: rec.env } });
  });
});

describe('context tar', () => {
  let tmp: { path: string; cleanup: () => Promise<void> } | undefined;
  afterAll(async () => {
    await tmp?.cleanup();
  });

  async function entries(stream: Readable): Promise<Array<[string, string, string]>> {
    const out: Array<[string, string, string]> = [];
    const ex = tar.extract();
    ex.on('entry', (h, s, next) => {
      const chunks: Buffer[] = [];
      s.on('data', (c: unknown) => void chunks.push(c as Buffer));
      s.on('end', () => {
        out.push([h.name, h.type ?? '', h.type === 'symlink' ? (h.linkname ?? '') : Buffer.concat(chunks).toString()]);
        next();
      });
    });
    const done = new Promise<void>((resolve, reject) => {
      ex.on('finish', resolve);
      ex.on('error', reject);
    });
    stream.pipe(ex);
    await done;
    return out;
  }

  test('sorted, .dockerignore honoured (with ! exceptions), Dockerfile and .dockerignore always sent', async () => {
    tmp = await tempDir('tbctx-');
    const dir = tmp.path;
    await mkdir(join(dir, 'logs'), { recursive: true });
    await mkdir(join(dir, 'src', 'deep'), { recursive: true });
    await writeFile(join(dir, '.dockerignore'), 'logs\n*.tmp\nsrc/**/*.o\n!src/deep/keep.o\nDockerfile\n.dockerignore\n');
    await writeFile(join(dir, 'Dockerfile'), 'FROM scratch\n');
    await writeFile(join(dir, 'logs', 'a.log'), 'x');
    await writeFile(join(dir, 'x.tmp'), 'x');
    await writeFile(join(dir, 'src', 'main.c'), 'int main;');
    await writeFile(join(dir, 'src', 'deep', 'a.o'), 'o');
    await writeFile(join(dir, 'src', 'deep', 'keep.o'), 'k');
    await symlink('main.c', join(dir, 'src', 'link'));
    const got = await entries(await contextTar(dir, { keep: ['Dockerfile', '.dockerignore'], extra: [{ name: '.extra', data: Buffer.from('E') }] }));
    expect(got).toEqual([
      ['.extra', 'file', 'E'],
      ['.dockerignore', 'file', 'logs\n*.tmp\nsrc/**/*.o\n!src/deep/keep.o\nDockerfile\n.dockerignore\n'],
      ['Dockerfile', 'file', 'FROM scratch\n'],
      ['src/', 'directory', ''],
      ['src/deep/', 'directory', ''],
      ['src/deep/keep.o', 'file', 'k'],
      ['src/link', 'symlink', 'main.c'],
      ['src/main.c', 'file', 'int main;'],
    ]);
    await expect(contextTar(join(dir, 'missing'))).rejects.toMatchObject({ code: 'TB_CONTEXT_INVALID' });
  });
});

import { describe, expect, test } from 'vitest';
import { PassThrough, Readable } from 'node:stream';
import { Demultiplexer, demuxBuffer, frame, framedWriter, STDERR, STDOUT } from '../../src/api/wire/multiplex.js';
import { checkVersion, compareVersions, splitVersion } from '../../src/api/wire/version.js';
import { errorResponse, parseFilters, boolParam, matchLabel } from '../../src/daemon/http.js';
import { TbuildError } from '../../src/errors.js';
import { ClassicStepRenderer, parseStepName } from '../../src/daemon/build-steps.js';
import { buildFailure } from '../../src/daemon/build-error.js';
import { JsonMessageWriter, familiarName, withDefaultTag } from '../../src/api/wire/json-message.js';
import { Router } from '../../src/daemon/router.js';
import { createOptionsFromBody, parseBind } from '../../src/daemon/create-options.js';
import { isLoopback, parseAddress } from '../../src/api/wire/address.js';
import { goFileMode } from '../../src/daemon/archive-stat.js';
import { buildOptionsFromQuery } from '../../src/daemon/routes/build.js';
import { humanDuration } from '../../src/util/time.js';
import { globMatch } from '../../src/api/image-filters.js';
import type { Digest } from '../../src/util/digest.js';

describe('multiplexed stream framing', () => {
  test('frame header is [stream,0,0,0,size BE32]', () => {
    const f = frame(STDERR, Buffer.from('hello'));
    expect([...f.subarray(0, 8)]).toEqual([2, 0, 0, 0, 0, 0, 0, 5]);
    expect(f.subarray(8).toString()).toBe('hello');
  });

  test('framed writers and the demultiplexer round-trip across arbitrary chunk boundaries', async () => {
    const wire = new PassThrough();
    const chunks: Buffer[] = [];
    wire.on('data', (d: Buffer) => chunks.push(d));
    const out = framedWriter(wire, STDOUT);
    const err = framedWriter(wire, STDERR);
    out.write('one ');
    err.write('oops');
    out.write(Buffer.alloc(70_000, 0x61));
    await new Promise((r) => setImmediate(r));
    const all = Buffer.concat(chunks);
    const got: Array<{ stream: number; data: Buffer }> = [];
    const demux = new Demultiplexer();
    demux.on('data', (c: { stream: number; data: Buffer }) => got.push(c));
    // Feed it 3 bytes at a time: headers split across chunks must still parse.
    await new Promise<void>((resolve, reject) => {
      demux.on('end', resolve);
      demux.on('error', reject);
      const parts: Buffer[] = [];
      for (let i = 0; i < all.length; i += 3) parts.push(all.subarray(i, i + 3));
      Readable.from(parts).pipe(demux);
    });
    expect(got.map((g) => g.stream)).toEqual([1, 2, 1]);
    expect(got[0]!.data.toString()).toBe('one ');
    expect(got[2]!.data.length).toBe(70_000);
    expect(demuxBuffer(all).stderr).toBe('oops');
  });

  test('a stream cut inside a frame is an error', async () => {
    const demux = new Demultiplexer();
    const done = new Promise((_, reject) => demux.on('error', reject));
    demux.resume();
    demux.end(frame(STDOUT, Buffer.from('abcdef')).subarray(0, 10));
    await expect(done).rejects.toThrow(/ended inside a frame/);
  });
});

describe('API version negotiation', () => {
  test('versioned and unversioned paths', () => {
    expect(splitVersion('/v1.43/containers/json')).toEqual({ version: '1.43', rest: '/containers/json', explicit: true });
    expect(splitVersion('/containers/json')).toMatchObject({ rest: '/containers/json', explicit: false });
    expect(compareVersions('1.9', '1.24')).toBe(-1);
    expect(compareVersions('1.47', '1.47')).toBe(0);
  });

  test("out-of-range versions get Docker's wording", () => {
    expect(() => checkVersion('1.99')).toThrow('client version 1.99 is too new. Maximum supported API version is 1.47');
    expect(() => checkVersion('1.10')).toThrow(
      'client version 1.10 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version',
    );
    expect(() => checkVersion('1.41')).not.toThrow();
  });
});

describe('error mapping', () => {
  test('TbuildError codes map to their HTTP status with the message as is', () => {
    expect(errorResponse(new TbuildError('TB_IMAGE_NOT_FOUND', 'No such image: x'))).toEqual({ status: 404, message: 'No such image: x' });
    expect(errorResponse(new TbuildError('TB_CONTAINER_NAME_IN_USE', 'Conflict.'))).toEqual({ status: 409, message: 'Conflict.' });
    expect(errorResponse(new TbuildError('TB_API_BAD_REQUEST', 'bad'))).toMatchObject({ status: 400 });
    expect(errorResponse(new Error('boom'))).toEqual({ status: 500, message: 'boom' });
    expect(errorResponse(Object.assign(new Error('too big'), { statusCode: 413 }))).toEqual({ status: 413, message: 'too big' });
  });

  test('a failing RUN reads like the classic builder and carries the exit code', () => {
    const err = new TbuildError('TB_EXEC_NONZERO', 'process did not complete', { details: { exitCode: 3, command: ['/bin/sh', '-c', 'exit 3'] } });
    expect(buildFailure(err)).toEqual({ message: "The command '/bin/sh -c exit 3' returned a non-zero code: 3", code: 3 });
    expect(buildFailure(new TbuildError('TB_PARSE_UNKNOWN_INSTRUCTION', 'unknown instruction: FOO'))).toEqual({ message: 'unknown instruction: FOO', code: 1 });
  });
});

describe('JSON-message stream', () => {
  test('one message per line; errors carry errorDetail and error; close messages share a write', () => {
    const out = new PassThrough();
    const w = new JsonMessageWriter(out);
    w.stream('Step 1/2 : FROM x\n');
    w.write({ aux: { ID: 'sha256:abc' } });
    w.error('bad thing', 2);
    // messages close together go out in one write: none yet, all of them once the stream ends
    expect(out.read()).toBeNull();
    out.end();
    const lines = out.read().toString().trim().split('\r\n').map((l: string) => JSON.parse(l));
    expect(lines).toEqual([
      { stream: 'Step 1/2 : FROM x\n' },
      { aux: { ID: 'sha256:abc' } },
      { errorDetail: { code: 2, message: 'bad thing' }, error: 'bad thing' },
    ]);
  });

  test('a message goes out on its own within a few milliseconds while the stream stays open', async () => {
    const out = new PassThrough();
    new JsonMessageWriter(out).write({ status: 'Downloading', id: 'abc' });
    await new Promise((r) => setTimeout(r, 50));
    expect(JSON.parse(out.read().toString())).toEqual({ status: 'Downloading', id: 'abc' });
  });

  test('names are shown the familiar way', () => {
    expect(familiarName('docker.io/library/busybox:latest')).toBe('busybox:latest');
    expect(familiarName('docker.io/me/app:1')).toBe('me/app:1');
    expect(familiarName('localhost:5000/x:1')).toBe('localhost:5000/x:1');
    expect(withDefaultTag('foo')).toBe('foo:latest');
    expect(withDefaultTag('localhost:5000/foo')).toBe('localhost:5000/foo:latest');
    expect(withDefaultTag('foo:1')).toBe('foo:1');
  });
});

describe('classic step rendering of parallel solver progress', () => {
  const id = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}` as Digest;

  test('step names parse; internal vertices do not', () => {
    expect(parseStepName('[stage-0 2/5] RUN make')).toEqual({ stage: 'stage-0', index: 2, total: 5, instruction: 'RUN make' });
    expect(parseStepName('[2/5] RUN make')).toEqual({ stage: '', index: 2, total: 5, instruction: 'RUN make' });
    expect(parseStepName('[builder 1/3] FROM busybox')).toMatchObject({ index: 1, total: 3 });
    expect(parseStepName('[internal] load build context')).toBeUndefined();
  });

  test('a step started later is held back until the earlier one finishes', () => {
    const text: string[] = [];
    const r = new ClassicStepRenderer((t) => text.push(t));
    const v = (n: number, name: string, extra: object = {}) => r.onProgress({ type: 'vertex', vertex: { id: id(n), name, inputs: [], started: 1, ...extra } });
    v(9, '[internal] load build context');
    v(1, '[a 1/2] RUN echo one');
    v(2, '[b 1/2] RUN echo two');
    r.onProgress({ type: 'log', vertex: id(2), stream: 'stdout', data: Buffer.from('two\n'), timestamp: 0 });
    r.onProgress({ type: 'log', vertex: id(1), stream: 'stdout', data: Buffer.from('one\n'), timestamp: 0 });
    v(2, '[b 1/2] RUN echo two', { completed: 2 });
    expect(text.join('')).not.toContain('two');
    v(1, '[a 1/2] RUN echo one', { completed: 2 });
    v(3, '[a 2/2] COPY x y', { cached: true, completed: 3 });
    r.flush();
    expect(text.join('')).toBe(
      [
        'Step 1/2 : RUN echo one',
        ` ---> Running in ${'1'.repeat(12)}`,
        'one',
        ` ---> ${'1'.repeat(12)}`,
        'Step 1/2 : RUN echo two',
        ` ---> Running in ${'2'.repeat(12)}`,
        'two',
        ` ---> ${'2'.repeat(12)}`,
        'Step 2/2 : COPY x y',
        ' ---> Using cache',
        ` ---> ${'3'.repeat(12)}`,
        '',
      ].join('\n'),
    );
  });

  test('with the Dockerfile plan: numbered across stages, config-only steps in their place', () => {
    const text: string[] = [];
    const plan = {
      singleStage: false,
      stages: [
        { label: 'base', steps: ['FROM busybox AS base', 'ENV A=1', 'RUN echo $A'] },
        { label: 'stage-1', steps: ['FROM base', 'WORKDIR /w', 'COPY x y', 'CMD ["sh"]'] },
      ],
    };
    const r = new ClassicStepRenderer((t) => text.push(t), plan);
    const v = (n: number, name: string) => r.onProgress({ type: 'vertex', vertex: { id: id(n), name, inputs: [], started: 1, completed: 2 } });
    // BuildKit's numbers count vertices only; the classic ones count every instruction
    v(1, '[base 1/2] FROM docker.io/library/busybox:latest');
    v(2, '[base 2/2] RUN echo $A');
    v(3, '[stage-1 2/2] COPY x y');
    r.flush(true);
    expect(text.join('').split('\n').filter((l) => l.startsWith('Step'))).toEqual([
      'Step 1/7 : FROM busybox AS base',
      'Step 2/7 : ENV A=1',
      'Step 3/7 : RUN echo $A',
      'Step 4/7 : FROM base',
      'Step 5/7 : WORKDIR /w',
      'Step 6/7 : COPY x y',
      'Step 7/7 : CMD ["sh"]',
    ]);
  });

  test('a failed step prints no id', () => {
    const text: string[] = [];
    const r = new ClassicStepRenderer((t) => text.push(t));
    r.onProgress({ type: 'vertex', vertex: { id: id(4), name: '[s 1/1] RUN exit 3', inputs: [], started: 1, completed: 2, error: 'exit 3' } });
    r.flush();
    expect(text.join('')).toBe(`Step 1/1 : RUN exit 3\n ---> Running in ${'4'.repeat(12)}\n`);
  });
});

describe('request parsing', () => {
  test('router: versioned image names with slashes and colons, methods', () => {
    const r = new Router();
    const h = async () => {};
    r.add('GET', '/images/json', h).add('GET', '/images/{name:*}/json', h).add('DELETE', '/images/{name:*}', h);
    const hit = r.match('GET', '/images/docker.io/library/busybox:latest/json');
    expect(hit).not.toBe('not-found');
    expect(typeof hit === 'object' && hit.params.name).toBe('docker.io/library/busybox:latest');
    expect(r.match('POST', '/images/json')).toBe('bad-method');
    expect(r.match('GET', '/nope')).toBe('not-found');
    const head = r.match('HEAD', '/images/json');
    expect(typeof head).toBe('object');
  });

  test('filters in both the current and the old shape', () => {
    const q = new URLSearchParams({ filters: JSON.stringify({ label: { 'a=b': true, c: false }, status: ['exited'] }) });
    const f = parseFilters(q);
    expect(f.get('label')).toEqual(['a=b']);
    expect(f.get('status')).toEqual(['exited']);
    expect(() => parseFilters(new URLSearchParams({ filters: '{bad' }))).toThrow(/invalid JSON in filters/);
    expect(matchLabel({ a: 'b' }, 'a=b')).toBe(true);
    expect(matchLabel({ a: 'b' }, 'a')).toBe(true);
    expect(matchLabel({ a: 'b' }, 'a=c')).toBe(false);
    expect(boolParam(new URLSearchParams('x=1'), 'x')).toBe(true);
    expect(boolParam(new URLSearchParams('x=false'), 'x')).toBe(false);
    expect(boolParam(new URLSearchParams(''), 'x', true)).toBe(true);
  });

  test('POST /build query → build options', () => {
    const q = new URLSearchParams();
    q.append('t', 'a:1');
    q.append('t', 'b');
    q.set('buildargs', JSON.stringify({ X: '1', FROM_ENV: null }));
    q.set('labels', JSON.stringify({ l: 'v' }));
    q.set('target', 'stage');
    q.set('nocache', '1');
    q.set('networkmode', 'host');
    q.set('dockerfile', 'sub/Dockerfile.x');
    expect(buildOptionsFromQuery(q)).toEqual({
      dockerfile: 'sub/Dockerfile.x',
      buildArgs: { X: '1' },
      tags: ['a:1', 'b'],
      noCache: true,
      network: 'host',
      target: 'stage',
      labels: { l: 'v' },
    });
    expect(() => buildOptionsFromQuery(new URLSearchParams('networkmode=weird'))).toThrow(/not supported/);
    expect(() => buildOptionsFromQuery(new URLSearchParams('buildargs={'))).toThrow(/invalid JSON in buildargs/);
  });

  test('container create body → options; bad shapes are 400', () => {
    const opts = createOptionsFromBody(
      {
        Image: 'busybox',
        Cmd: ['echo', 'hi'],
        Entrypoint: '/bin/sh',
        Env: ['A=1'],
        Tty: true,
        Unknown: { ignored: true },
        HostConfig: { Binds: ['/h:/c:ro', 'vol:/data'], NetworkMode: 'none', Memory: 1 << 20, NanoCpus: 1.5e9, PidsLimit: 10, AutoRemove: true },
      },
      'web',
    );
    expect(opts).toMatchObject({
      image: 'busybox',
      name: 'web',
      cmd: ['echo', 'hi'],
      entrypoint: ['/bin/sh'],
      tty: true,
      network: 'none',
      autoRemove: true,
      resources: { memory: 1 << 20, cpuQuota: 150_000, cpuPeriod: 100_000, pidsLimit: 10 },
      mounts: [
        { type: 'bind', source: '/h', target: '/c', readonly: true },
        { type: 'volume', source: 'vol', target: '/data', readonly: false },
      ],
    });
    expect(() => createOptionsFromBody({}, undefined)).toThrow(/Config cannot be empty/);
    expect(() => createOptionsFromBody({ Image: 'x', Cmd: 5 }, undefined)).toThrow(/Cmd must be/);
    expect(() => createOptionsFromBody({ Image: 'x' }, 'bad name!')).toThrow(/Invalid container name/);
    expect(() => parseBind('/a')).toThrow(/invalid volume specification/);
    expect(() => parseBind('/a:rel')).toThrow(/must be absolute/);
  });

  test('daemon addresses and the loopback rule', () => {
    expect(parseAddress('unix:///run/x.sock')).toEqual({ kind: 'unix', path: '/run/x.sock' });
    expect(parseAddress('tcp://127.0.0.1:2375')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 2375 });
    expect(parseAddress('tcp://[::1]:2376')).toEqual({ kind: 'tcp', host: '::1', port: 2376 });
    expect(() => parseAddress('ftp://x')).toThrow(/invalid daemon address/);
    expect(isLoopback('127.0.0.1')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('0.0.0.0')).toBe(false);
    expect(isLoopback('10.1.2.3')).toBe(false);
  });

  test("path stat modes use Go's FileMode bits", () => {
    expect(goFileMode(0o040755)).toBe(2 ** 31 + 0o755);
    expect(goFileMode(0o100644)).toBe(0o644);
    expect(goFileMode(0o120777)).toBe(2 ** 27 + 0o777);
  });

  test('human durations and globs as Docker prints and matches them', () => {
    expect(humanDuration(500)).toBe('Less than a second');
    expect(humanDuration(3000)).toBe('3 seconds');
    expect(humanDuration(61_000)).toBe('About a minute');
    expect(humanDuration(3 * 3600_000)).toBe('3 hours');
    expect(globMatch('busy*', 'busybox:latest')).toBe(true);
    expect(globMatch('busy*', 'me/busybox')).toBe(false);
  });
});

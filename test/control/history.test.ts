import http2 from 'node:http2';
import { join } from 'node:path';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ControlServer } from '../../src/control/server.js';
import { BuildHistoryEventType, Control, type BuildHistoryEvent } from '../../src/control/gen/github.com/moby/buildkit/api/services/control/control_pb.js';
import type { ControlBackend } from '../../src/control/types.js';
import { BuildRecordStore } from '../../src/records/store.js';
import { tempDir } from '../support/tmp.js';
import type { Digest } from '../../src/util/digest.js';

/**
 * BuildKit's build history over real gRPC (connect's client on HTTP/2 to the server's handler),
 * from a real record store: what buildx's `history` commands and Docker Desktop read.
 */
describe('BuildKit control API: build history', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let server: http2.Http2Server;
  let control: ControlServer;
  let records: BuildRecordStore;
  let url: string;
  const sessions = new Set<http2.ServerHttp2Session>();

  beforeAll(async () => {
    tmp = await tempDir('tb-history-');
    records = new BuildRecordStore(join(tmp.path, 'root'));
    const backend: ControlBackend = {
      root: join(tmp.path, 'root'),
      build: async () => {
        throw new Error('no builds in this test');
      },
      df: async () => ({ LayersSize: 0, Images: [], Containers: [], Volumes: [], BuildCache: [] }),
      pruneBuildCache: async () => ({ CachesDeleted: [], SpaceReclaimed: 0 }),
      records,
    };
    control = new ControlServer(backend, { version: '1.2.3' });
    server = http2.createServer(control.handler);
    server.on('session', (s) => {
      sessions.add(s);
      s.on('close', () => sessions.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    control.close();
    for (const s of sessions) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
    await tmp.cleanup();
  });

  const client = () => createClient(Control, createGrpcTransport({ baseUrl: url }));

  /** A build as the engine records one: its steps' progress, then its outcome. */
  async function recordBuild(opts: { ref?: string; fail?: string; tags?: string[] }): Promise<string> {
    const r = await records.start({ dockerfile: 'Dockerfile', target: 'app', args: { FLAVOUR: 'x' }, tags: opts.tags ?? [], ...(opts.ref ? { ref: opts.ref } : {}) });
    const now = Date.now();
    r.event({ type: 'vertex', vertex: { id: 'sha256:a' as Digest, name: '[1/2] FROM busybox', inputs: [], started: now, completed: now, cached: true } });
    r.event({ type: 'vertex', vertex: { id: 'sha256:b' as Digest, name: '[2/2] RUN make', inputs: ['sha256:a' as Digest], started: now, completed: now + 5, ...(opts.fail ? { error: opts.fail } : {}) } });
    r.event({ type: 'warning', message: 'a check said something' });
    await r.finish(opts.fail ? { error: new Error(opts.fail) } : { result: { imageId: 'sha256:cfg', digest: 'sha256:man' } });
    return r.id;
  }

  test('the records so far, oldest first, as BuildKit describes its builds; then it ends (EarlyExit)', async () => {
    await recordBuild({ ref: 'buildx-ref-1', tags: ['app:1'] });
    const failedId = await recordBuild({ fail: 'process "/bin/sh -c make" did not complete successfully: exit code: 2' });
    const events: BuildHistoryEvent[] = [];
    for await (const e of client().listenBuildHistory({ EarlyExit: true })) events.push(e);
    expect(events.map((e) => [e.type, e.record!.Ref])).toEqual([
      [BuildHistoryEventType.COMPLETE, 'buildx-ref-1'],
      [BuildHistoryEventType.COMPLETE, failedId],
    ]);
    const ok = events[0]!.record!;
    expect(ok.Frontend).toBe('dockerfile.v0');
    expect(ok.FrontendAttrs).toEqual({ filename: 'Dockerfile', target: 'app', 'build-arg:FLAVOUR': 'x' });
    expect(ok.ExporterResponse).toEqual({ 'containerimage.digest': 'sha256:man', 'containerimage.config.digest': 'sha256:cfg', 'image.name': 'app:1' });
    expect(ok.Exporters.map((x) => [x.Type, x.Attrs])).toEqual([['image', { name: 'app:1' }]]);
    expect([ok.numTotalSteps, ok.numCachedSteps, ok.numCompletedSteps, ok.numWarnings]).toEqual([2, 1, 2, 1]);
    expect(timestampMs(ok.CompletedAt!)).toBeGreaterThanOrEqual(timestampMs(ok.CreatedAt!));
    expect(ok.error).toBeUndefined();
    const failed = events[1]!.record!;
    expect(failed.error?.message).toContain('exit code: 2');
    // by ref, and the newest only
    const one: BuildHistoryEvent[] = [];
    for await (const e of client().listenBuildHistory({ EarlyExit: true, Ref: 'buildx-ref-1' })) one.push(e);
    expect(one.map((e) => e.record!.Ref)).toEqual(['buildx-ref-1']);
    const newest: BuildHistoryEvent[] = [];
    for await (const e of client().listenBuildHistory({ EarlyExit: true, Limit: 1 })) newest.push(e);
    expect(newest.map((e) => e.record!.Ref)).toEqual([failedId]);
  });

  test('live: a build that starts, completes and is deleted while a client listens', async () => {
    const abort = new AbortController();
    const stream = client().listenBuildHistory({ ActiveOnly: false, Ref: 'live-1' }, { signal: abort.signal })[Symbol.asyncIterator]();
    // give the server the call before the build starts (it replays nothing for this ref)
    await new Promise((r) => setTimeout(r, 200));
    const id = await recordBuild({ ref: 'live-1' });
    const first = await stream.next();
    const second = await stream.next();
    expect([first.value.type, second.value.type]).toEqual([BuildHistoryEventType.STARTED, BuildHistoryEventType.COMPLETE]);
    expect(second.value.record.numTotalSteps).toBe(2);
    await client().updateBuildHistory({ Ref: 'live-1', Delete: true });
    const third = await stream.next();
    expect([third.value.type, third.value.record.Ref]).toEqual([BuildHistoryEventType.DELETED, 'live-1']);
    await expect(records.get(id)).rejects.toMatchObject({ code: 'TB_BUILD_RECORD_NOT_FOUND' });
    abort.abort();
  });

  test('what tbuild cannot do is refused by name: filters, pinning; an unknown ref is not found', async () => {
    const listen = async (req: Parameters<ReturnType<typeof client>['listenBuildHistory']>[0]) => {
      try {
        for await (const _ of client().listenBuildHistory(req)) void _;
      } catch (e) {
        return e as ConnectError;
      }
      throw new Error('no error');
    };
    const filtered = await listen({ EarlyExit: true, Filter: ['status==error'] });
    expect(filtered.code).toBe(Code.Unimplemented);
    expect(filtered.rawMessage).toContain('build history filters (status==error)');
    const pin = (await client().updateBuildHistory({ Ref: 'buildx-ref-1', Pinned: true }).catch((e: unknown) => e)) as ConnectError;
    expect(pin.code).toBe(Code.Unimplemented);
    expect(pin.rawMessage).toContain('pinning');
    const missing = (await client().updateBuildHistory({ Ref: 'nope', Delete: true }).catch((e: unknown) => e)) as ConnectError;
    expect(missing.code).toBe(Code.NotFound);
    // Finalize of a finished record: ours are final when the build ends
    await client().updateBuildHistory({ Ref: 'buildx-ref-1', Finalize: true });
  });
});

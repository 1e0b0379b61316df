import http2 from 'node:http2';
import { join } from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ControlServer } from '../../src/control/server.js';
import { Control, SolveRequestSchema } from '../../src/control/gen/github.com/moby/buildkit/api/services/control/control_pb.js';
import { DefinitionSchema } from '../../src/control/gen/github.com/moby/buildkit/solver/pb/ops_pb.js';
import type { ControlBackend } from '../../src/control/types.js';
import { tempDir } from '../support/tmp.js';

/**
 * The control API's answers to requests it must refuse, over real gRPC (connect's client on an
 * HTTP/2 connection to the server's handler): each names what is unsupported, and the server keeps
 * serving afterwards.
 */
describe('BuildKit control API: bad requests', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let server: http2.Http2Server;
  let control: ControlServer;
  let url: string;
  let builds = 0;
  const sessions = new Set<http2.ServerHttp2Session>();

  beforeAll(async () => {
    tmp = await tempDir('tb-control-');
    const backend: ControlBackend = {
      root: join(tmp.path, 'root'),
      build: async () => {
        builds++;
        throw new Error('no builds in this test');
      },
      df: async () => ({ LayersSize: 0, Images: [], Containers: [], Volumes: [], BuildCache: [{ ID: 'rec1', Type: 'regular', Description: 'RUN make', InUse: false, Shared: false, Size: 4096, CreatedAt: '2026-01-01T00:00:00Z', UsageCount: 2 }] }),
      pruneBuildCache: async () => ({ CachesDeleted: ['rec1'], SpaceReclaimed: 4096 }),
    };
    control = new ControlServer(backend, { version: '1.2.3' });
    // As the daemon's h2c server is set up: room for one oversized message to be refused by size.
    server = http2.createServer({ maxSessionMemory: 64 }, control.handler);
    server.on('session', (s) => {
      sessions.add(s);
      s.on('close', () => sessions.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address() as { port: number };
    url = `http://127.0.0.1:${a.port}`;
  });
  afterAll(async () => {
    control.close();
    // The clients keep their connections alive; end them so the server can close.
    for (const s of sessions) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
    await tmp.cleanup();
  });

  const client = () => createClient(Control, createGrpcTransport({ baseUrl: url }));
  const solveError = async (req: Parameters<ReturnType<typeof client>['solve']>[0]) => {
    const err = await client()
      .solve(req)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    return err as ConnectError;
  };

  test.each([
    ['an unknown frontend', { Frontend: 'gateway.v0', Ref: 'r1' }, Code.Unimplemented, /the frontend "gateway.v0" is not supported/],
    ['an unknown exporter', { Frontend: 'dockerfile.v0', Ref: 'r2', Exporters: [{ Type: 'spaceship', Attrs: {} }] }, Code.Unimplemented, /the "spaceship" exporter is not supported/],
    ['an exporter option tbuild would drop', { Frontend: 'dockerfile.v0', Ref: 'r3', Exporters: [{ Type: 'image', Attrs: { name: 'x', compression: 'zstd' } }] }, Code.Unimplemented, /image exporter's "compression" option/],
    ['a cache backend tbuild lacks', { Frontend: 'dockerfile.v0', Ref: 'r4', Cache: { Exports: [{ Type: 'gha', Attrs: { scope: 'x' } }] } }, Code.InvalidArgument, /cache type "gha" is not supported/],
    ['a cache export option tbuild would drop', { Frontend: 'dockerfile.v0', Ref: 'r4b', Cache: { Exports: [{ Type: 'registry', Attrs: { ref: 'r/x:cache', 'compression-level': '9' } }] } }, Code.InvalidArgument, /"compression-level" is not supported/],
    ['a local cache import without the digest the client resolves', { Frontend: 'dockerfile.v0', Ref: 'r4c', Cache: { Imports: [{ Type: 'local', Attrs: { src: '/x' } }] } }, Code.InvalidArgument, /--cache-from type=local,src=\/x: the client sent no digest/],
    ['a local cache attribute tbuild does not know', { Frontend: 'dockerfile.v0', Ref: 'r4d', Cache: { Exports: [{ Type: 'local', Attrs: { dest: '/x', store_id: 'x' } }] } }, Code.InvalidArgument, /attribute "store_id" is not supported/],
    ['an LLB definition', { Ref: 'r5', Definition: create(DefinitionSchema, { def: [new Uint8Array([1, 2, 3])] }) }, Code.Unimplemented, /LLB definition/],
    ['an entitlement the daemon does not allow', { Frontend: 'dockerfile.v0', Ref: 'r6', Entitlements: ['security.insecure'] }, Code.PermissionDenied, /security.insecure is not allowed/],
  ])('refuses %s by name', async (_name, req, code, message) => {
    const err = await solveError(req);
    expect(err.code).toBe(code);
    expect(err.rawMessage).toMatch(message);
  });

  test('a Solve whose session never connects fails with a clear error, and nothing was built', async () => {
    const err = await solveError({ Frontend: 'dockerfile.v0', Ref: 'r7', Session: 'nobody-home' });
    expect(err.rawMessage).toMatch(/no active session for nobody-home/);
    expect(builds).toBe(0);
  }, 20_000);

  test('a malformed message is rejected and the server keeps serving', async () => {
    const session = http2.connect(url);
    const status = await new Promise<string>((resolve) => {
      const stream = session.request({ ':method': 'POST', ':path': '/moby.buildkit.v1.Control/Solve', 'content-type': 'application/grpc', te: 'trailers' });
      // A gRPC frame whose payload is not a SolveRequest (a truncated length-delimited field).
      const payload = Buffer.from([0x0a, 0xff, 0xff, 0x01]);
      const frame = Buffer.alloc(5 + payload.length);
      frame.writeUInt32BE(payload.length, 1);
      payload.copy(frame, 5);
      stream.end(frame);
      let code = '';
      stream.on('response', (h) => (code = String(h['grpc-status'] ?? '')));
      stream.on('trailers', (t) => (code = String(t['grpc-status'] ?? code)));
      stream.on('close', () => resolve(code));
      stream.resume();
    });
    session.close();
    expect(status).not.toBe('0');
    expect(status).not.toBe('');
    const info = await client().info({});
    expect(info.buildkitVersion?.version).toBe('v1.2.3');
  });

  test('a message over 16 MiB is refused and the server keeps serving', async () => {
    const big = create(SolveRequestSchema, { Ref: 'big', Frontend: 'dockerfile.v0', FrontendAttrs: { 'build-arg:X': 'x'.repeat(17 << 20) } });
    expect(toBinary(SolveRequestSchema, big).length).toBeGreaterThan(16 << 20);
    const err = await solveError(big);
    // Refused by size (ResourceExhausted), or the stream is reset while the client is still
    // sending it; either way nothing is solved.
    expect([Code.ResourceExhausted, Code.Internal], err.message).toContain(err.code);
    expect(err.message).toMatch(/exceeds|limit|ENHANCE_YOUR_CALM/i);
    expect(builds).toBe(0);
    expect((await client().info({})).buildkitVersion?.version).toBe('v1.2.3');
  });

  test('DiskUsage and Prune answer from the engine', async () => {
    const du = await client().diskUsage({});
    expect(du.record.map((r) => [r.ID, Number(r.Size), r.Description])).toEqual([['rec1', 4096, 'RUN make']]);
    const pruned = [];
    for await (const r of client().prune({ all: true })) pruned.push(r.ID);
    expect(pruned).toEqual(['rec1']);
    const filtered = await (async () => {
      for await (const _ of client().prune({ filter: ['type==regular'] })) {
        /* never */
      }
    })().catch((e: unknown) => e);
    expect((filtered as ConnectError).rawMessage).toMatch(/prune filters \(type==regular\) are not supported/);
  });
});

import { afterAll, beforeAll, expect, test } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Registry } from '../../src/registry/client.js';
import { fixedCredentials } from '../../src/registry/credentials.js';
import { sha256 } from '../../src/util/digest.js';

/**
 * Registries that misbehave in ways a real docker-registry cannot be made to: redirect loops,
 * redirects to another host (which must not receive our Authorization), stalled bodies and
 * oversized manifests. Small HTTP servers on 127.0.0.1 play them.
 */

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const servers: Server[] = [];

async function serve(handler: Handler): Promise<string> {
  const s = createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(s.address() as { port: number }).port}`;
}

const blob = Buffer.from('the blob bytes');
const blobDigest = sha256(blob);
let seenByCdn: Array<string | undefined> = [];
let cdn: string;
let main: string;
let client: Registry;

beforeAll(async () => {
  cdn = await serve((req, res) => {
    seenByCdn.push(req.headers.authorization);
    res.end(blob);
  });
  main = await serve((req, res) => {
    const url = req.url ?? '';
    if (req.headers.authorization !== `Basic ${Buffer.from('u:pw').toString('base64')}`) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' }).end();
      return;
    }
    if (url === '/v2/') return void res.end('{}');
    if (url.startsWith('/v2/r/blobs/')) return void res.writeHead(307, { location: `http://${cdn}/storage/blob?sig=abc` }).end();
    if (url.startsWith('/v2/loop/')) return void res.writeHead(302, { location: url }).end();
    // tag lists in pages, as distribution sends them with `?n=`: a Link to the next page
    if (url === '/v2/paged/tags/list') return void res.writeHead(200, { link: '</v2/paged/tags/list?last=b&n=2>; rel="next"' }).end('{"name":"paged","tags":["a","b"]}');
    if (url === '/v2/paged/tags/list?last=b&n=2') return void res.writeHead(200, { link: `<http://${main}/v2/paged/tags/list?last=c&n=2>; rel="next"` }).end('{"name":"paged","tags":["c"]}');
    if (url === '/v2/paged/tags/list?last=c&n=2') return void res.end('{"name":"paged","tags":null}');
    if (url === '/v2/circular/tags/list') return void res.writeHead(200, { link: '</v2/circular/tags/list>; rel="next"' }).end('{"tags":["x"]}');
    if (url === '/v2/elsewhere/tags/list') return void res.writeHead(200, { link: `<http://${cdn}/v2/elsewhere/tags/list?last=x>; rel="next"` }).end('{"tags":["x"]}');
    if (url === '/v2/garbled/tags/list') return void res.end('{"tags":"latest"}');
    if (url.startsWith('/v2/big/manifests/')) {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      res.end(Buffer.alloc(5 * 1024 * 1024, 0x20));
      return;
    }
    if (url.startsWith('/v2/stall/manifests/')) {
      // Headers, a few bytes, then nothing: the client must give up rather than hang.
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': '100' });
      res.write('{"schemaVersion":');
      return;
    }
    res.writeHead(404).end();
  });
  client = new Registry({ credentials: fixedCredentials(main, { username: 'u', password: 'pw' }), timeoutMs: 1500, attempts: 1 });
});

afterAll(async () => {
  await client.close();
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

test('a redirect to another host is followed without our Authorization', async () => {
  seenByCdn = [];
  const bytes = await client.fetcher({ domain: main, path: 'r' }).blobBytes({ mediaType: 'application/octet-stream', digest: blobDigest, size: blob.length });
  expect(bytes.equals(blob)).toBe(true);
  expect(seenByCdn).toEqual([undefined]);
});

test('a redirect loop is an error, not a hang', async () => {
  await expect(client.fetcher({ domain: main, path: 'loop' }).manifest('1')).rejects.toMatchObject({
    code: 'TB_REGISTRY_PROTOCOL',
    message: expect.stringContaining('too many redirects'),
  });
});

test('a manifest over 4 MB is refused', async () => {
  await expect(client.fetcher({ domain: main, path: 'big' }).manifest('1')).rejects.toMatchObject({
    code: 'TB_REGISTRY_PROTOCOL',
    message: expect.stringMatching(/more than the 4194304/),
  });
});

test('a stalled body times out', async () => {
  const err = await client.fetcher({ domain: main, path: 'stall' }).manifest('1').then(() => undefined, (e: unknown) => e as Error & { code?: string });
  expect(err).toBeDefined();
  expect(err!.code).toBe('TB_REGISTRY_UNREACHABLE');
  expect(err!.message).toContain(main);
});

test('a password never appears in an error', async () => {
  const wrong = new Registry({ credentials: fixedCredentials(main, { username: 'u', password: 'secret-wrong-pw' }), attempts: 1 });
  try {
    const err = await wrong.login(main, { username: 'u', password: 'secret-wrong-pw' }).then(() => undefined, (e: unknown) => e as Error & { code?: string });
    expect(err).toMatchObject({ code: 'TB_REGISTRY_UNAUTHORIZED' });
    expect(JSON.stringify({ m: err!.message, s: err!.stack, d: (err as { details?: unknown }).details })).not.toContain('secret-wrong-pw');
  } finally {
    await wrong.close();
  }
});

test('a tag list is read across its pages; a page sent twice, a page on another host or a list that is not one are errors', async () => {
  expect(await client.tags({ domain: main, path: 'paged' })).toEqual(['a', 'b', 'c']);
  await expect(client.tags({ domain: main, path: 'circular' })).rejects.toMatchObject({ code: 'TB_REGISTRY_PROTOCOL', message: expect.stringContaining('twice') });
  seenByCdn = [];
  await expect(client.tags({ domain: main, path: 'elsewhere' })).rejects.toMatchObject({ code: 'TB_REGISTRY_PROTOCOL', message: expect.stringContaining(`on another host (${cdn})`) });
  expect(seenByCdn).toEqual([]);
  await expect(client.tags({ domain: main, path: 'garbled' })).rejects.toMatchObject({ code: 'TB_REGISTRY_PROTOCOL', message: expect.stringContaining('has no list of tags') });
  await expect(client.tags({ domain: main, path: 'absent' })).rejects.toMatchObject({ code: 'TB_REGISTRY_NOT_FOUND' });
});

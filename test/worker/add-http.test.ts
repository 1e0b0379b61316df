import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createServer, type Server } from 'node:http';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { isRoot, mountsUnder, tempDir } from '../support/tmp.js';
import { BUSYBOX_TAR } from '../support/cli.js';
import { freePort } from '../support/certs.js';
import { Engine } from '../../src/engine.js';
import type { ProgressEvent } from '../../src/build/types.js';

/**
 * `ADD https://…` as BuildKit does it: the file downloaded (redirects followed), mode 0600 unless
 * --chmod, mtime from Last-Modified, the name from Content-Disposition or the URL path, archives
 * left packed; `--checksum` verified (and keys the step without a download); errors name the URL.
 */
describe.runIf(isRoot)('ADD from http(s)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let engine: Engine;
  let server: Server;
  let base: string;
  let hits = 0;
  let version = 'v1';
  let etagVersion = 'e1';
  const conditional: string[] = [];
  const archive = Buffer.from('pretend this is a tarball, it must stay packed\n');

  let contextTar = Buffer.alloc(0);

  beforeAll(async () => {
    tmp = await tempDir('tb-addhttp-');
    const src = join(tmp.path, 'remote-ctx');
    await mkdir(src);
    await writeFile(join(src, 'Dockerfile'), 'FROM busybox:local\nCOPY msg.txt /msg.txt\n');
    await writeFile(join(src, 'msg.txt'), 'from a tarball URL\n');
    contextTar = execFileSync('tar', ['-cz', '-C', src, '.']);
    engine = await Engine.open({ root: join(tmp.path, 'root') });
    await engine.load(createReadStream(BUSYBOX_TAR));
    server = createServer((req, res) => {
      hits++;
      const url = req.url ?? '/';
      if (url === '/file.txt') {
        res.writeHead(200, { 'last-modified': 'Tue, 01 Jul 2025 10:00:00 GMT', 'content-type': 'text/plain' });
        res.end(`hello ${version}\n`);
      } else if (url === '/etag.txt') {
        const tag = `"${etagVersion}"`;
        conditional.push(req.headers['if-none-match'] ?? '');
        if (req.headers['if-none-match'] === tag) {
          res.writeHead(304, { etag: tag });
          res.end();
        } else {
          res.writeHead(200, { etag: tag, 'content-disposition': 'attachment; filename="tagged.txt"' });
          res.end(`tagged ${etagVersion}\n`);
        }
      } else if (url === '/moved') {
        res.writeHead(302, { location: '/file.txt' });
        res.end();
      } else if (url === '/download?id=7') {
        res.writeHead(200, { 'content-disposition': 'attachment; filename="report.csv"' });
        res.end('a,b\n');
      } else if (url === '/context.tar.gz') {
        res.writeHead(200, { 'content-type': 'application/gzip' });
        res.end(contextTar);
      } else if (url === '/pkg.tar.gz') {
        res.writeHead(200);
        res.end(archive);
      } else {
        res.writeHead(404, 'Not Found');
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  }, 120_000);

  afterAll(async () => {
    await engine?.close();
    await new Promise((r) => server?.close(r));
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  }, 60_000);

  let n = 0;
  async function build(dockerfile: string, opts: { noCache?: boolean } = {}) {
    const ctx = join(tmp.path, `ctx-${n}`);
    const out = join(tmp.path, `out-${n++}`);
    await mkdir(ctx);
    await writeFile(join(ctx, 'Dockerfile'), dockerfile);
    const events: ProgressEvent[] = [];
    await engine.build({ context: ctx, outputs: [{ type: 'local', dest: out }], network: 'none', onProgress: (e) => events.push(e), ...opts });
    const ran = events.flatMap((e) => (e.type === 'vertex' && e.vertex.completed && !e.vertex.cached && e.vertex.name.includes('ADD') ? [e.vertex.name] : []));
    return { out, ran };
  }

  test('the file, its name, mode and mtime; a redirect; Content-Disposition; an archive stays packed', async () => {
    const { out } = await build(
      `FROM busybox:local\nADD ${base}/file.txt /a/\nADD ${base}/moved /b/moved.txt\nADD ${base}/download?id=7 /c/\nADD ${base}/pkg.tar.gz /d/\nADD --chmod=644 ${base}/file.txt /e/\n`,
    );
    expect(await readFile(join(out, 'a/file.txt'), 'utf8')).toBe('hello v1\n');
    const st = await stat(join(out, 'a/file.txt'));
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.mtime.toISOString()).toBe('2025-07-01T10:00:00.000Z');
    expect(await readFile(join(out, 'b/moved.txt'), 'utf8')).toBe('hello v1\n');
    expect(await readFile(join(out, 'c/report.csv'), 'utf8')).toBe('a,b\n');
    expect(await readFile(join(out, 'd/pkg.tar.gz'))).toEqual(archive);
    expect((await stat(join(out, 'e/file.txt'))).mode & 0o777).toBe(0o644);
  }, 120_000);

  test('keyed by content: unchanged content hits the cache, changed content runs again', async () => {
    const df = `FROM busybox:local\nADD ${base}/file.txt /x.txt\nRUN cat /x.txt > /copy\n`;
    await build(df);
    const same = await build(df);
    expect(same.ran).toEqual([]);
    version = 'v2';
    const changed = await build(df);
    expect(changed.ran).toEqual([`[2/3] ADD ${base}/file.txt /x.txt`]);
    expect(await readFile(join(changed.out, 'copy'), 'utf8')).toBe('hello v2\n');
    version = 'v1';
  }, 120_000);

  test('a URL downloaded before is asked for with If-None-Match: a 304 reuses the stored file, even with --no-cache', async () => {
    const df = `FROM busybox:local\nADD ${base}/etag.txt /t/\n`;
    const first = await build(df, { noCache: true });
    const again = await build(df, { noCache: true });
    expect(conditional.slice(-2)).toEqual(['', '"e1"']);
    for (const b of [first, again]) expect(await readFile(join(b.out, 't/tagged.txt'), 'utf8')).toBe('tagged e1\n');
    etagVersion = 'e2';
    const changed = await build(df, { noCache: true });
    expect(conditional.slice(-1)).toEqual(['"e1"']);
    expect(await readFile(join(changed.out, 't/tagged.txt'), 'utf8')).toBe('tagged e2\n');
    // builder du lists the stored download (as BuildKit's "http url" record), and builder prune
    // (unused cache, no -a needed) drops it: the next download is unconditional
    const listed = (await engine.df()).BuildCache!.filter((r) => r.Description === `http url ${base}/etag.txt`);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ Type: 'regular', InUse: false });
    expect(listed[0]!.Size).toBeGreaterThan(0);
    expect((await engine.pruneBuildCache({ until: '1h' })).CachesDeleted).not.toContain(listed[0]!.ID);
    expect((await engine.pruneBuildCache()).CachesDeleted).toContain(listed[0]!.ID);
    await build(df, { noCache: true });
    expect(conditional.slice(-1)).toEqual(['']);
  }, 120_000);

  test('--checksum: verified; with it a cached step does not download', async () => {
    const good = `sha256:${createHash('sha256').update('hello v1\n').digest('hex')}`;
    const df = `FROM busybox:local\nADD --checksum=${good} ${base}/file.txt /x.txt\n`;
    await build(df);
    const before = hits;
    const again = await build(df);
    expect(again.ran).toEqual([]);
    expect(hits).toBe(before);
    const bad = `sha256:${'0'.repeat(64)}`;
    await expect(build(`FROM busybox:local\nADD --checksum=${bad} ${base}/file.txt /x.txt\n`)).rejects.toThrow(`digest mismatch: expected ${bad}, got ${good}`);
  }, 120_000);

  test('a tarball URL as the build context', async () => {
    const out = join(tmp.path, 'tarball-ctx-out');
    await engine.build({ context: `${base}/context.tar.gz`, outputs: [{ type: 'local', dest: out }], network: 'none' });
    expect(await readFile(join(out, 'msg.txt'), 'utf8')).toBe('from a tarball URL\n');
    await expect(engine.build({ context: `${base}/missing.tar.gz` })).rejects.toThrow(`context ${base}/missing.tar.gz: 404 Not Found`);
  }, 120_000);

  test('bad input: a 404 and a dead host are named; --checksum on a local file, --keep-git-dir without a git source, other algorithms are refused', async () => {
    await expect(build(`FROM busybox:local\nADD ${base}/missing /m\n`)).rejects.toThrow(`ADD ${base}/missing: 404 Not Found`);
    const closed = await freePort();
    await expect(build(`FROM busybox:local\nADD http://127.0.0.1:${closed}/x /m\n`)).rejects.toThrow(new RegExp(`ADD http://127\\.0\\.0\\.1:${closed}/x: .*ECONNREFUSED`));
    await expect(build(`FROM busybox:local\nADD --checksum=sha256:${'a'.repeat(64)} Dockerfile /m\n`)).rejects.toThrow("checksum can't be specified for non-HTTP(S) sources");
    await expect(build(`FROM busybox:local\nADD --checksum=sha512:abc ${base}/file.txt /m\n`)).rejects.toThrow(/sha512 algorithm is not supported/);
    await expect(build('FROM busybox:local\nADD --keep-git-dir=true Dockerfile /m\n')).rejects.toThrow(/--keep-git-dir applies to git sources only/);
  }, 120_000);
});

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createSign, randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request, Agent } from 'undici';
import { tempDir } from './tmp.js';

/**
 * A real Debian `docker-registry` (distribution 2.8) on 127.0.0.1, on a free port, with its
 * storage in a temporary directory, in three forms: plain HTTP; TLS (a test CA, trusted through a
 * certs.d directory) with htpasswd Basic auth; Bearer tokens from a small token issuer here, whose
 * signing certificate the registry's `auth.token.rootcertbundle` trusts; TLS that asks every client
 * for a certificate signed by the test CA (`http.tls.clientcas`), given in certs.d as Docker lays it out.
 */

export type RegistryKind = 'plain' | 'tls-basic' | 'token' | 'tls-client-cert';

export interface TestRegistry {
  kind: RegistryKind;
  /** `127.0.0.1:PORT`. */
  host: string;
  /** Directory to pass as certsDir (holds `HOST/ca.crt` for TLS registries). */
  certsDir: string;
  /** CA file (TLS) for other clients (skopeo `--cert-dir` = certsDir/HOST). */
  caFile?: string;
  /** User and password accepted (tls-basic, token). */
  user?: { username: string; password: string };
  /** Token requests the issuer has answered (scopes as asked). */
  tokenRequests: string[];
  /** The User-Agent of each token request, in the same order (who fetched the token). */
  tokenClients: string[];
  /** Storage directory of the registry. */
  storage: string;
  /** skopeo flags for this registry as a destination or source (`--dest-…` / `--src-…`). */
  skopeoFlags(side: 'src' | 'dest'): string[];
  stop(): Promise<void>;
}

export const TEST_USER = { username: 'tester', password: 's3cret-Pa55word' };

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'ignore' });
}

/** A CA and a server certificate for 127.0.0.1 signed by it. */
async function makeCerts(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=tbuild test CA'], dir);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
  await writeFile(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'ext.cnf'], dir);
  return { ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

interface TokenIssuer {
  server: Server;
  realm: string;
  requests: string[];
  clients: string[];
}

/** Issues RS256 JWTs granting every asked action to TEST_USER, and pull to anonymous callers. */
async function startTokenIssuer(dir: string, service: string): Promise<{ issuer: TokenIssuer; bundle: string }> {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'token.key', '-out', 'token.crt', '-days', '2', '-subj', '/CN=tbuild token issuer'], dir);
  const key = await readFile(join(dir, 'token.key'), 'utf8');
  const certPem = await readFile(join(dir, 'token.crt'), 'utf8');
  const der = Buffer.from(certPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const requests: string[] = [];
  const clients: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => issue(req, res, Buffer.concat(chunks).toString()));
  });
  const refused = (res: import('node:http').ServerResponse) => {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
  };
  // GET with Basic credentials (the distribution spec's token flow), or POST of an OAuth2 form
  // with grant_type=password (what containerd's and buildx's clients try first)
  const issue = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, body: string) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const form = req.method === 'POST' ? new URLSearchParams(body) : undefined;
    const scopes = form ? (form.get('scope') ?? '').split(' ').filter(Boolean) : url.searchParams.getAll('scope');
    requests.push(scopes.join(' '));
    clients.push(String(req.headers['user-agent'] ?? ''));
    const auth = req.headers.authorization;
    let user: string | undefined;
    if (form) {
      if (form.get('grant_type') !== 'password' || form.get('username') !== TEST_USER.username || form.get('password') !== TEST_USER.password) return refused(res);
      user = TEST_USER.username;
    } else if (auth?.startsWith('Basic ')) {
      const [u, p] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
      if (u !== TEST_USER.username || p !== TEST_USER.password) return refused(res);
      user = u;
    }
    const access = scopes.flatMap((s) => {
      const [type, name, actions] = s.split(':');
      const granted = (actions ?? '').split(',').filter((a) => user || a === 'pull');
      return granted.length ? [{ type, name, actions: granted }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', x5c: [der.toString('base64')] };
    const claims = { iss: 'tbuild-test-issuer', sub: user ?? '', aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access };
    const signing = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = createSign('RSA-SHA256').update(signing).sign(key);
    const token = `${signing}.${b64url(sig)}`;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ...(form ? { access_token: token } : { token }), expires_in: 300, issued_at: new Date().toISOString() }));
  };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const realm = `http://127.0.0.1:${(server.address() as { port: number }).port}/token`;
  return { issuer: { server, realm, requests, clients }, bundle: join(dir, 'token.crt') };
}

export async function startRegistry(kind: RegistryKind = 'plain'): Promise<TestRegistry> {
  const tmp = await tempDir('tb-reg-');
  const storage = join(tmp.path, 'storage');
  await mkdir(storage);
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const certsDir = join(tmp.path, 'certs.d');
  await mkdir(join(certsDir, host), { recursive: true });
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storage}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${host}`,
    `  secret: ${randomUUID()}`,
  ];
  let caFile: string | undefined;
  let issuer: TokenIssuer | undefined;
  let user: TestRegistry['user'];
  if (kind === 'tls-basic') {
    const certs = await makeCerts(tmp.path);
    caFile = join(certsDir, host, 'ca.crt');
    await writeFile(caFile, await readFile(certs.ca));
    lines.push('  tls:', `    certificate: ${certs.cert}`, `    key: ${certs.key}`);
    execFileSync('htpasswd', ['-Bbc', join(tmp.path, 'htpasswd'), TEST_USER.username, TEST_USER.password], { stdio: 'ignore' });
    lines.push('auth:', '  htpasswd:', '    realm: tbuild-test', `    path: ${join(tmp.path, 'htpasswd')}`);
    user = TEST_USER;
  } else if (kind === 'tls-client-cert') {
    const { makeCerts: makeMutualCerts } = await import('./certs.js');
    const dir = join(tmp.path, 'mtls');
    await mkdir(dir);
    await makeMutualCerts(dir);
    caFile = join(certsDir, host, 'ca.crt');
    await writeFile(caFile, await readFile(join(dir, 'ca.pem')));
    await writeFile(join(certsDir, host, 'client.cert'), await readFile(join(dir, 'cert.pem')));
    await writeFile(join(certsDir, host, 'client.key'), await readFile(join(dir, 'key.pem')));
    lines.push('  tls:', `    certificate: ${join(dir, 'server-cert.pem')}`, `    key: ${join(dir, 'server-key.pem')}`, '    clientcas:', `      - ${join(dir, 'ca.pem')}`);
  } else if (kind === 'token') {
    const service = 'tbuild-test-registry';
    const t = await startTokenIssuer(tmp.path, service);
    issuer = t.issuer;
    lines.push('auth:', '  token:', `    realm: ${issuer.realm}`, `    service: ${service}`, '    issuer: tbuild-test-issuer', `    rootcertbundle: ${t.bundle}`);
    user = TEST_USER;
  }
  const configFile = join(tmp.path, 'config.yml');
  await writeFile(configFile, lines.join('\n') + '\n');
  const child: ChildProcess = spawn('docker-registry', ['serve', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    if (issuer) await new Promise((r) => issuer!.server.close(r));
    await tmp.cleanup();
  };
  // Wait for /v2/ to answer (200 or 401), polling: the machine may be loaded.
  const tls = kind === 'tls-basic' || kind === 'tls-client-cert';
  const scheme = tls ? 'https' : 'http';
  const agent = new Agent({
    connect: {
      rejectUnauthorized: false,
      ...(kind === 'tls-client-cert' ? { cert: await readFile(join(certsDir, host, 'client.cert')), key: await readFile(join(certsDir, host, 'client.key')) } : {}),
    },
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`docker-registry exited (${child.exitCode}): ${stderr}`);
    }
    try {
      const res = await request(`${scheme}://${host}/v2/`, { dispatcher: agent });
      await res.body.dump();
      if (res.statusCode === 200 || res.statusCode === 401) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry did not answer on ${host}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await agent.close();
  return {
    kind,
    host,
    certsDir,
    ...(caFile ? { caFile } : {}),
    ...(user ? { user } : {}),
    tokenRequests: issuer?.requests ?? [],
    tokenClients: issuer?.clients ?? [],
    storage,
    skopeoFlags(side) {
      const f = [tls ? `--${side}-cert-dir=${join(certsDir, host)}` : `--${side}-tls-verify=false`];
      if (user) f.push(`--${side}-creds=${user.username}:${user.password}`);
      return f;
    },
    stop,
  };
}

/** Run a program without blocking the event loop (the token issuer above answers from this process). */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    // a program that exits without reading its stdin is judged by its exit code, not by our EPIPE
    child.stdin!.on('error', () => {});
    child.stdin!.end(opts.input ?? '');
  });
}

/**
 * A two-layer test image as a docker-archive file (for skopeo to copy into a registry): Debian's
 * busybox-static as the base layer (scripts/make-busybox-rootfs.sh + import), plus a layer with
 * `/hello.txt`. Made in its own state root under `dir`.
 */
export async function makeTestArchive(dir: string): Promise<{ file: string; name: string }> {
  const { openParts } = await import('./engine-parts.js');
  const { importRootfs } = await import('../../src/images/import.js');
  const { importLayers } = await import('../../src/images/layers.js');
  const { saveDockerArchive } = await import('../../src/images/docker-archive.js');
  const { makeTar } = await import('./tar.js');
  const { createReadStream, createWriteStream } = await import('node:fs');
  const { Readable } = await import('node:stream');
  const { pipeline } = await import('node:stream/promises');
  const { PROJECT_ROOT } = await import('./cli.js');
  const rootfs = join(dir, 'rootfs.tar');
  const made = await run('bash', [join(PROJECT_ROOT, 'scripts', 'make-busybox-rootfs.sh'), rootfs]);
  if (made.code !== 0) throw new Error(`make-busybox-rootfs.sh failed: ${made.stderr}`);
  const parts = await openParts(join(dir, 'img-root'));
  const base = await importRootfs(parts, createReadStream(rootfs), { changes: ['CMD ["/bin/sh"]'], created: new Date(1_700_000_000_000) });
  const extra = await makeTar([{ name: 'hello.txt', content: 'hello from the registry test\n' }]);
  const all = await importLayers(parts, [
    { diffId: base.layers[0]!.diffId, open: () => parts.content.createReadStream(base.layers[0]!.diffId) },
    { open: () => Readable.from([extra]) },
  ]);
  const config = {
    ...base.config,
    rootfs: { type: 'layers' as const, diff_ids: all.map((l) => l.diffId) },
    history: [...(base.config.history ?? []), { created: base.config.created, created_by: 'COPY hello.txt /' }],
  };
  const name = 'tbuild-test/busybox:2layers';
  await parts.images.create({ config, layers: all, names: [name] });
  const file = join(dir, 'test-image.docker.tar');
  await pipeline(await saveDockerArchive(parts, [name]), createWriteStream(file));
  return { file, name };
}

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { spawn } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { extract } from 'tar-stream';

export const DOCKER_CLI = '/usr/local/bin/docker';

/** One captured `POST /build`: the query string and the entries of the context tar. */
export interface CapturedBuild {
  query: URLSearchParams;
  entries: { name: string; type: string }[];
}

/**
 * A fake Docker Engine on a unix socket that records the build context the Docker CLI sends.
 * It answers just enough (`/_ping`, `/version`, `POST /build`) for `docker build` with
 * `DOCKER_BUILDKIT=0` to send its context tar and exit 0.
 */
export class DockerCapture {
  readonly socket: string;
  readonly builds: CapturedBuild[] = [];
  #server: Server;

  private constructor(socket: string, server: Server) {
    this.socket = socket;
    this.#server = server;
  }

  static async start(dir: string): Promise<DockerCapture> {
    const socket = join(dir, 'docker.sock');
    let capture: DockerCapture | undefined;
    const server = createServer((req, res) => {
      capture!.#handle(req, res).catch((err: unknown) => {
        res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ message: String(err) }));
      });
    });
    capture = new DockerCapture(socket, server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socket, () => resolve());
    });
    return capture;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://docker');
    const path = url.pathname.replace(/^\/v[0-9.]+/, '');
    const headers = { 'Api-Version': '1.47', OSType: 'linux', 'Docker-Experimental': 'false' };
    if (path === '/_ping') {
      res.writeHead(200, { ...headers, 'Content-Type': 'text/plain' });
      res.end(req.method === 'HEAD' ? undefined : 'OK');
      return;
    }
    if (path === '/version') {
      res.writeHead(200, { ...headers, 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ Version: '28.2.2', ApiVersion: '1.47', MinAPIVersion: '1.24', Os: 'linux', Arch: 'amd64' }));
      return;
    }
    if (path === '/build' && req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      let body = Buffer.concat(chunks);
      if (body[0] === 0x1f && body[1] === 0x8b) body = gunzipSync(body);
      this.builds.push({ query: url.searchParams, entries: await tarEntries(body) });
      res.writeHead(200, { ...headers, 'Content-Type': 'application/json' });
      res.write(JSON.stringify({ stream: 'ok\n' }) + '\n');
      res.end(JSON.stringify({ aux: { ID: 'sha256:' + '0'.repeat(64) } }) + '\n');
      return;
    }
    // drain and refuse anything else, so an unexpected call shows up as a CLI error
    for await (const _ of req) void _;
    res.writeHead(404, { ...headers, 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ message: `not implemented: ${req.method} ${url.pathname}` }));
  }
}

async function tarEntries(tar: Buffer): Promise<{ name: string; type: string }[]> {
  const entries: { name: string; type: string }[] = [];
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      entries.push({ name: header.name, type: header.type ?? 'file' });
      stream.on('end', next);
      stream.resume();
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(tar);
  await done;
  return entries;
}

/** Run `docker build` against the capture socket; resolves with the exit code and output. */
export function dockerBuild(
  socket: string,
  args: string[],
  cwd: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(DOCKER_CLI, ['build', ...args], {
      cwd,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        // keep the CLI's config out of the context it sends (and away from the real ~/.docker)
        HOME: dirname(socket),
        DOCKER_CONFIG: join(dirname(socket), 'docker-config'),
        DOCKER_HOST: `unix://${socket}`,
        DOCKER_BUILDKIT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { IgnoreMatcher, loadDockerignore } from '../parser/dockerignore.js';
import { pack } from 'tar-stream';
import { DaemonClient } from './client.js';
import type { JsonMessage } from './json-message.js';

/**
 * The CLI side of "talk to a daemon when one is named": pack a context directory the way the
 * Docker CLI does (honouring .dockerignore, keeping the Dockerfile and .dockerignore) and build
 * through `POST /build`, or list images through `GET /images/json`.
 */

export interface RemoteBuildOptions {
  context: string;
  /** Relative to the context (default `Dockerfile`). */
  dockerfile?: string;
  tags?: string[];
  buildArgs?: Record<string, string>;
  labels?: Record<string, string>;
  target?: string;
  noCache?: boolean;
  network?: 'default' | 'none' | 'host';
  platform?: string;
  quiet?: boolean;
  signal?: AbortSignal;
}

/** A tar stream of `dir`, without what `.dockerignore` excludes. */
export async function packContext(dir: string, dockerfile = 'Dockerfile'): Promise<Readable> {
  const root = resolve(dir);
  const ig = new IgnoreMatcher(await loadDockerignore(root, join(root, dockerfile)));
  const keep = new Set([dockerfile.replace(/^\.\//, ''), '.dockerignore']);
  const entries: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const abs = join(d, e.name);
      const rel = relative(root, abs).split(sep).join('/');
      if (ig.matches(rel) && !keep.has(rel)) {
        // An excluded directory may still hold re-included (`!pattern`) paths.
        if (e.isDirectory() && !ig.canSkipDir(rel)) await walk(abs);
        continue;
      }
      entries.push(rel);
      if (e.isDirectory()) await walk(abs);
    }
  };
  await walk(root);
  const p = pack();
  void (async () => {
    try {
      for (const rel of entries) {
        const abs = join(root, rel);
        const st = await lstat(abs);
        const base = { name: rel, mode: st.mode & 0o7777, mtime: st.mtime, uid: 0, gid: 0 };
        if (st.isDirectory()) p.entry({ ...base, type: 'directory' });
        else if (st.isSymbolicLink()) p.entry({ ...base, type: 'symlink', linkname: await readlink(abs) });
        else if (st.isFile()) {
          await new Promise<void>((res, rej) => {
            const w = p.entry({ ...base, size: st.size }, (err) => (err ? rej(err) : res()));
            createReadStream(abs).on('error', rej).pipe(w);
          });
        }
      }
      p.finalize();
    } catch (err) {
      p.destroy(err as Error);
    }
  })();
  return p as unknown as Readable;
}

/** Build through the daemon at `host`; `onText` gets the classic output. Resolves with the image id. */
export async function remoteBuild(host: string, opts: RemoteBuildOptions, onText: (text: string) => void): Promise<string> {
  const client = new DaemonClient(host);
  await client.ping();
  const dockerfile = opts.dockerfile ?? 'Dockerfile';
  let imageId = '';
  await client.messages(
    {
      method: 'POST',
      path: '/build',
      query: {
        t: opts.tags,
        dockerfile,
        buildargs: opts.buildArgs ? JSON.stringify(opts.buildArgs) : undefined,
        labels: opts.labels ? JSON.stringify(opts.labels) : undefined,
        target: opts.target,
        nocache: opts.noCache,
        networkmode: opts.network,
        platform: opts.platform,
        q: opts.quiet,
      },
      body: await packContext(opts.context, dockerfile),
      headers: { 'Content-Type': 'application/x-tar' },
      signal: opts.signal,
    },
    (m: JsonMessage) => {
      if (typeof m.aux?.ID === 'string') imageId = m.aux.ID;
      if (m.stream && !opts.quiet) onText(m.stream);
    },
  );
  return imageId;
}

/** `GET /images/json` through the daemon at `host` (Docker's image summaries). */
export async function remoteImages(host: string, opts: { all?: boolean; filters?: Record<string, string[]> } = {}): Promise<Array<Record<string, unknown>>> {
  const client = new DaemonClient(host);
  await client.ping();
  return client.json({ path: '/images/json', query: { all: opts.all, filters: opts.filters ? JSON.stringify(opts.filters) : undefined } });
}

import { lstat, open, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { type Duplex, Writable } from 'node:stream';
import { create, type DescMethodBiDiStreaming, type DescService } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { TbuildError } from '../errors.js';
import { byteStreamDuplex, Channel } from './channel.js';
import { type BytesMessage, BytesMessageSchema, FileSend, FileSync } from './gen/github.com/moby/buildkit/session/filesync/filesync_pb.js';
import { Auth } from './gen/github.com/moby/buildkit/session/auth/auth_pb.js';
import type { Credentials } from '../registry/types.js';
import { Secrets } from './gen/github.com/moby/buildkit/session/secrets/secrets_pb.js';
import { BytesMessageSchema as SshBytesSchema, SSH } from './gen/github.com/moby/buildkit/session/sshforward/ssh_pb.js';
import { StatSchema } from './gen/github.com/tonistiigi/fsutil/types/stat_pb.js';
import { type Packet, PacketSchema, Packet_PacketType as T } from './gen/github.com/tonistiigi/fsutil/types/wire_pb.js';
import { goModeOf } from './go-mode.js';
import type { ClientSession } from './types.js';

/** Calls tbuild makes on the client's session: secrets and exports going back to the client. */

const EXPORTER_ID = 'buildkit-attachable-exporter-id';

function requireMethod(session: ClientSession, method: string, what: string): void {
  if (!session.methods.has(method)) throw new TbuildError('TB_BUILDKIT_SESSION', `the client's session does not offer ${what} (${method})`);
}

/** A secret the client holds (`--secret id=…`); undefined when it has none by that id. */
export async function getSecret(session: ClientSession, id: string, signal?: AbortSignal): Promise<Uint8Array | undefined> {
  if (!session.methods.has('/moby.buildkit.secrets.v1.Secrets/GetSecret')) return undefined;
  try {
    const res = await createClient(Secrets, session.transport).getSecret({ ID: id }, { signal });
    return res.data;
  } catch (err) {
    if (err instanceof ConnectError && err.code === Code.NotFound) return undefined;
    throw err;
  }
}

/**
 * The client's ssh agent `id` (`--ssh id`), as a function opening one connection to it over the
 * session; undefined when the client forwards no agent.
 */
export function sshAgent(session: ClientSession, id: string): (() => Duplex) | undefined {
  if (!session.methods.has('/moby.sshforward.v1.SSH/ForwardAgent')) return undefined;
  return () => {
    const out = new Channel<{ data: Uint8Array }>();
    const responses = createClient(SSH, session.transport).forwardAgent(out, { headers: { 'buildkit.ssh.id': id }, signal: session.signal });
    return byteStreamDuplex(out, (data) => create(SshBytesSchema, { data }), responses);
  };
}

/**
 * Registry credentials the client holds for `host` (its `docker login`s), as BuildKit asks its
 * session's Auth service; undefined when it has none. Docker Hub goes by its v1 index name there.
 */
export async function getCredentials(session: ClientSession, host: string, signal?: AbortSignal): Promise<Credentials | undefined> {
  const apiHost = host === 'docker.io' ? 'registry-1.docker.io' : host;
  const auth = createClient(Auth, session.transport);
  // Bearer tokens come from the client as BuildKit asks for them (the client fetches each with
  // its login, its credential helper's refresh tokens included); the login itself answers basic
  // challenges.
  const fetchToken: Credentials['fetchToken'] = session.methods.has('/moby.filesync.v1.Auth/FetchToken')
    ? async (req) => {
        const res = await auth.fetchToken({ ClientID: 'buildkit-client', Host: apiHost, Realm: req.realm, Service: req.service ?? '', Scopes: [...req.scopes] }, { signal });
        return { token: res.Token, expiresIn: Number(res.ExpiresIn), issuedAt: Number(res.IssuedAt) };
      }
    : undefined;
  if (!session.methods.has('/moby.filesync.v1.Auth/Credentials')) return undefined;
  const res = await auth.credentials({ Host: apiHost }, { signal });
  // no login on the client: the daemon's own credentials (or none) apply, as before
  if (!res.Secret) return undefined;
  const basic = res.Username ? { username: res.Username, password: res.Secret } : { identityToken: res.Secret };
  return { ...basic, ...(fetchToken ? { fetchToken } : {}) };
}

/** A byte stream to the client's exporter number `index` (`-o type=tar|docker|oci`): write, then end. */
export function sendStream(session: ClientSession, index: number, signal?: AbortSignal): { writable: Writable; done: Promise<void> } {
  requireMethod(session, '/moby.filesync.v1.FileSend/DiffCopy', 'receiving exported files');
  const out = new Channel<BytesMessage>();
  const responses = createClient(FileSend, session.transport).diffCopy(out, { headers: { [EXPORTER_ID]: String(index) }, signal });
  const done = (async () => {
    for await (const _ of responses) {
      /* the client answers nothing until it has all bytes */
    }
  })();
  const writable = new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      // Messages stay well under the 16 MiB limit whatever the writer's chunking.
      for (let off = 0; off < chunk.length; off += 1 << 20) out.push(create(BytesMessageSchema, { data: chunk.subarray(off, off + (1 << 20)) }));
      cb();
    },
    final(cb) {
      out.close();
      cb();
    },
    destroy(err, cb) {
      out.close(err ?? undefined);
      cb(err);
    },
  });
  return { writable, done };
}

/**
 * FileSend's DiffCopy declares BytesMessage, but a directory export speaks fsutil packets on it (the
 * client hands the stream to fsutil's receiver), as BuildKit's own exporter does.
 */
function packetFileSend(): DescService {
  const base = FileSync.method.diffCopy;
  const service = { ...FileSend } as DescService;
  const method = { ...base, parent: service } as DescMethodBiDiStreaming<typeof PacketSchema, typeof PacketSchema>;
  Object.assign(service, { methods: [method], method: { diffCopy: method } });
  return service;
}

interface Listed {
  rel: string;
  abs: string;
  isFile: boolean;
}

async function walk(root: string, rel: string, out: Packet[], files: Listed[]): Promise<void> {
  const names = (await readdir(join(root, rel))).sort();
  for (const name of names) {
    const path = rel ? `${rel}/${name}` : name;
    const abs = join(root, path);
    const st = await lstat(abs, { bigint: true });
    const stat = create(StatSchema, {
      path,
      mode: goModeOf(Number(st.mode)),
      uid: Number(st.uid),
      gid: Number(st.gid),
      size: st.isFile() ? st.size : 0n,
      modTime: st.mtimeNs,
      linkname: st.isSymbolicLink() ? await readlink(abs) : '',
    });
    out.push(create(PacketSchema, { type: T.PACKET_STAT, stat }));
    files.push({ rel: path, abs, isFile: st.isFile() });
    if (st.isDirectory()) await walk(root, path, out, files);
  }
}

/** Send directory `dir` to the client's exporter number `index` (`-o type=local,dest=…`). */
export async function sendDir(session: ClientSession, index: number, dir: string, signal?: AbortSignal): Promise<void> {
  requireMethod(session, '/moby.filesync.v1.FileSend/DiffCopy', 'receiving exported files');
  const stats: Packet[] = [];
  const files: Listed[] = [];
  await walk(dir, '', stats, files);
  const out = new Channel<Packet>();
  for (const p of stats) out.push(p);
  out.push(create(PacketSchema, { type: T.PACKET_STAT }));
  const client = createClient(packetFileSend() as typeof FileSync, session.transport);
  const responses = client.diffCopy(out, { headers: { [EXPORTER_ID]: String(index) }, signal });
  try {
    for await (const p of responses) {
      if (p.type === T.PACKET_ERR) throw new TbuildError('TB_BUILDKIT_SESSION', `the client could not write the exported files: ${new TextDecoder().decode(p.data)}`);
      if (p.type === T.PACKET_FIN) {
        out.push(create(PacketSchema, { type: T.PACKET_FIN }));
        break;
      }
      if (p.type !== T.PACKET_REQ) continue;
      const f = files[p.ID];
      if (!f?.isFile) throw new TbuildError('TB_BUILDKIT_SESSION', `the client asked for entry ${p.ID}, which is not a file`);
      const fh = await open(f.abs, 'r');
      try {
        const buf = Buffer.alloc(1 << 20);
        for (;;) {
          const { bytesRead } = await fh.read(buf, 0, buf.length, null);
          if (!bytesRead) break;
          out.push(create(PacketSchema, { type: T.PACKET_DATA, ID: p.ID, data: Buffer.from(buf.subarray(0, bytesRead)) }));
        }
      } finally {
        await fh.close();
      }
      out.push(create(PacketSchema, { type: T.PACKET_DATA, ID: p.ID }));
    }
  } finally {
    out.close();
  }
}

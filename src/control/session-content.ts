import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { TbuildError } from '../errors.js';
import { isDigest, sha256, type Digest } from '../util/digest.js';
import { verifyingStream } from '../util/verify-stream.js';
import type { Descriptor, Fetcher, Pusher, Resolved } from '../registry/types.js';
import { Channel } from './channel.js';
import { Content, WriteAction, type WriteContentRequest, type WriteContentResponse, WriteContentRequestSchema } from './gen/github.com/containerd/containerd/api/services/content/v1/content_pb.js';
import type { ClientSession } from './types.js';

/**
 * A content store the client serves on its session (containerd's content service, chosen by
 * BuildKit's `buildkit-attachable-store-id` header): how buildx hands a builder its
 * `--cache-to/--cache-from type=local` directory. The daemon reads and writes blobs there only by
 * digest; the client itself names the exported manifest in its `index.json` from the Solve
 * response's `cache.manifest`, which is why `tagged` keeps the manifest put under a tag.
 */

const STORE_ID = 'buildkit-attachable-store-id';
const MAX_MANIFEST = 4 << 20;
/** Writes go in messages of at most this much: far below gRPC's default 4 MiB receive limit. */
const WRITE_CHUNK = 1 << 20;

export class ClientContentStore implements Fetcher, Pusher {
  readonly #client: Client<typeof Content>;
  readonly #headers: Record<string, string>;
  readonly #signal: AbortSignal;
  readonly #name: string;
  /** The last manifest put under a tag: what the client writes into its index.json. */
  tagged: Descriptor | undefined;

  /** `storeId` is BuildKit's `local:<client directory>`. */
  constructor(session: ClientSession, storeId: string, signal: AbortSignal) {
    if (!session.methods.has('/containerd.services.content.v1.Content/Write')) {
      throw new TbuildError('TB_BUILDKIT_SESSION', `the client's session does not serve the content store ${storeId} (/containerd.services.content.v1.Content)`);
    }
    this.#client = createClient(Content, session.transport);
    this.#headers = { [STORE_ID]: storeId };
    this.#signal = signal;
    this.#name = storeId.replace(/^local:/, '');
  }

  #fail(err: unknown, what: string): never {
    if (err instanceof ConnectError && err.code === Code.NotFound) throw new TbuildError('TB_REGISTRY_NOT_FOUND', `cache ${this.#name}: ${what} is missing`);
    if (err instanceof TbuildError) throw err;
    throw new TbuildError('TB_BUILDKIT_SESSION', `cache ${this.#name}: the client's content store failed on ${what}: ${(err as Error).message}`);
  }

  async #size(digest: Digest): Promise<number | undefined> {
    try {
      const res = await this.#client.info({ digest }, { headers: this.#headers, signal: this.#signal });
      return Number(res.info?.size ?? 0n);
    } catch (err) {
      if (err instanceof ConnectError && err.code === Code.NotFound) return undefined;
      return this.#fail(err, `blob ${digest}`);
    }
  }

  async *#read(digest: Digest): AsyncGenerator<Buffer> {
    try {
      for await (const r of this.#client.read({ digest, offset: 0n, size: 0n }, { headers: this.#headers, signal: this.#signal })) {
        if (r.data.length) yield Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength);
      }
    } catch (err) {
      this.#fail(err, `blob ${digest}`);
    }
  }

  // ── Fetcher ──

  /** Only by digest: the client resolved its tag from its own index.json before the Solve. */
  async manifest(tagOrDigest: string): Promise<Resolved> {
    if (!isDigest(tagOrDigest)) throw new TbuildError('TB_INVALID_ARGUMENT', `cache ${this.#name}: the client's store is read by digest, not by tag ${tagOrDigest}`);
    const size = await this.#size(tagOrDigest);
    if (size === undefined) throw new TbuildError('TB_REGISTRY_NOT_FOUND', `cache ${this.#name}: manifest ${tagOrDigest} is missing`);
    if (size > MAX_MANIFEST) throw new TbuildError('TB_REGISTRY_PROTOCOL', `cache ${this.#name}: manifest ${tagOrDigest} is ${size} bytes, more than a manifest may be`);
    const bytes = await this.blobBytes({ mediaType: '', digest: tagOrDigest, size });
    let mediaType = '';
    try {
      mediaType = (JSON.parse(bytes.toString()) as { mediaType?: string }).mediaType ?? '';
    } catch {
      throw new TbuildError('TB_REGISTRY_PROTOCOL', `cache ${this.#name}: manifest ${tagOrDigest} is not JSON`);
    }
    return { repository: { domain: 'local', path: this.#name }, descriptor: { mediaType, digest: tagOrDigest, size }, bytes };
  }

  async blob(desc: Descriptor, onBytes?: (n: number) => void, opts?: { verify?: boolean }): Promise<Readable> {
    if ((await this.#size(desc.digest)) === undefined) throw new TbuildError('TB_REGISTRY_NOT_FOUND', `cache ${this.#name}: blob ${desc.digest} is missing`);
    if (opts?.verify === false) {
      const read = this.#read(desc.digest);
      return Readable.from(
        (async function* () {
          for await (const c of read) {
            onBytes?.(c.length);
            yield c;
          }
        })(),
      );
    }
    return verifyingStream(this.#read(desc.digest), desc, onBytes);
  }

  async blobBytes(desc: Descriptor): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of verifyingStream(this.#read(desc.digest), desc)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  // ── Pusher ──

  async hasBlob(digest: Digest): Promise<boolean> {
    return (await this.#size(digest)) !== undefined;
  }

  async mountBlob(): Promise<boolean> {
    return false;
  }

  async putBlob(data: Buffer, digest?: Digest): Promise<Descriptor> {
    const d = sha256(data);
    if (digest && digest !== d) throw new TbuildError('TB_CONTENT_DIGEST_MISMATCH', `blob ${digest}: content hashes to ${d}`);
    if (!(await this.hasBlob(d))) await this.#write([data]);
    return { mediaType: 'application/octet-stream', digest: d, size: data.length };
  }

  async pushStream(data: Readable, onBytes?: (n: number) => void): Promise<{ digest: Digest; size: number }> {
    return this.#write(data, onBytes);
  }

  /** The manifest goes in as a blob; under a tag it is also what the client will name (`tagged`). */
  async putManifest(tagOrDigest: string, mediaType: string, bytes: Buffer): Promise<Digest> {
    const { digest, size } = await this.putBlob(bytes);
    if (!isDigest(tagOrDigest)) this.tagged = { mediaType, digest, size };
    return digest;
  }

  /**
   * One containerd write session: WRITE messages in order, then COMMIT with the digest; each
   * message is answered before the next goes, so a slow client holds back the export instead of
   * queueing the blob in memory. The digest is named only at the end, and only when the store
   * does not have the blob yet: a store that has it answers with an error status that the
   * client's gRPC server sends in a form Node's HTTP/2 client loses (seen as "missing status").
   */
  async #write(data: Iterable<Buffer> | AsyncIterable<Buffer>, onBytes?: (n: number) => void): Promise<{ digest: Digest; size: number }> {
    const ref = `tbuild-${randomBytes(8).toString('hex')}`;
    const out = new Channel<WriteContentRequest>();
    const responses = this.#client.write(out, { headers: this.#headers, signal: this.#signal })[Symbol.asyncIterator]();
    const answered = async (): Promise<WriteContentResponse> => {
      const r = await responses.next();
      if (r.done) throw new TbuildError('TB_BUILDKIT_SESSION', `cache ${this.#name}: the client's content store ended a write early`);
      return r.value;
    };
    const send = (action: WriteAction, offset: number, body: { data?: Uint8Array; total?: bigint; expected?: string }) =>
      out.push(create(WriteContentRequestSchema, { action, ref, offset: BigInt(offset), ...body }));
    const hash = createHash('sha256');
    let size = 0;
    let digest: Digest | undefined;
    // small stream chunks are gathered into messages of up to WRITE_CHUNK: one round trip each
    let gathered: Buffer[] = [];
    let gatheredBytes = 0;
    const flush = async () => {
      if (!gatheredBytes) return;
      const part = gathered.length === 1 ? gathered[0]! : Buffer.concat(gathered);
      gathered = [];
      gatheredBytes = 0;
      send(WriteAction.WRITE, size, { data: part });
      hash.update(part);
      size += part.length;
      onBytes?.(part.length);
      await answered();
    };
    try {
      for await (const chunk of data) {
        for (let at = 0; at < chunk.length; at += WRITE_CHUNK) {
          const part = chunk.subarray(at, at + WRITE_CHUNK);
          gathered.push(part);
          gatheredBytes += part.length;
          if (gatheredBytes >= WRITE_CHUNK) await flush();
        }
      }
      await flush();
      digest = `sha256:${hash.digest('hex')}` as Digest;
      if (await this.hasBlob(digest)) {
        await this.#abandon(out, responses, ref);
        return { digest, size };
      }
      send(WriteAction.COMMIT, size, { total: BigInt(size), expected: digest });
      await answered();
      return { digest, size };
    } catch (err) {
      // a commit that lost the race to the same blob, or whose answer went missing, still landed
      if (digest && (await this.#size(digest).catch(() => undefined)) === size) return { digest, size };
      // nothing landed: the client's store drops the partial blob (its ref is ours alone)
      out.close();
      await this.#client.abort({ ref }, { headers: this.#headers, signal: this.#signal }).catch(() => {});
      return this.#fail(err, 'a write');
    } finally {
      out.close();
      await responses.return?.().catch(() => {});
    }
  }

  /** End a write without committing: the client's store drops the partial blob on Abort. */
  async #abandon(out: Channel<WriteContentRequest>, responses: AsyncIterator<WriteContentResponse>, ref: string): Promise<void> {
    out.close();
    for (;;) {
      const r = await responses.next().catch(() => ({ done: true as const, value: undefined }));
      if (r.done) break;
    }
    await this.#client.abort({ ref }, { headers: this.#headers, signal: this.#signal }).catch(() => {});
  }
}

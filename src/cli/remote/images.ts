import type { ContainerConfig, HistoryEntry, ImageLayer, ImageRecord, ImageStore, ImageUser } from '../../images/types.js';
import type { Digest } from '../../util/digest.js';
import { TbuildError, isTbuildError } from '../../errors.js';
import { normalizeReference } from '../../images/reference.js';
import type { EngineClient } from './client.js';

/** What `GET /images/{name}/json` answers (the fields we read back). */
interface InspectBody {
  Id: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  Created?: string;
  Author?: string;
  Comment?: string;
  Config?: Record<string, unknown> | null;
  Architecture?: string;
  Os?: string;
  Variant?: string;
  Size?: number;
  RootFS?: { Layers?: string[] | null };
  Metadata?: { LastTagTime?: string };
}

interface HistoryRow {
  Id: string;
  Created: number;
  CreatedBy: string;
  Size: number;
  Comment: string;
}

/** Instructions that only change the config: a 0-byte history entry of theirs is an empty layer. */
const METADATA_ONLY = /^(\/bin\/sh -c #\(nop\)|(ENV|LABEL|CMD|ENTRYPOINT|EXPOSE|USER|ARG|STOPSIGNAL|HEALTHCHECK|SHELL|ONBUILD|VOLUME|MAINTAINER)\b)/;

/** Ids and names go into the path as Docker's client sends them: slashes and colons left alone. */
export function refPath(ref: string): string {
  return encodeURI(ref).replace(/#/g, '%23').replace(/\?/g, '%3F');
}

function iso(seconds: number): string | undefined {
  return seconds > 0 ? new Date(seconds * 1000).toISOString().replace('.000Z', 'Z') : undefined;
}

/** The container config as the image config holds it: Docker's inspect nulls dropped. */
function containerConfig(raw: Record<string, unknown> | null | undefined): ContainerConfig {
  const keep = ['User', 'ExposedPorts', 'Env', 'Entrypoint', 'Cmd', 'Volumes', 'WorkingDir', 'Labels', 'StopSignal', 'Healthcheck', 'OnBuild', 'Shell', 'ArgsEscaped'];
  const out: Record<string, unknown> = {};
  for (const k of keep) {
    const v = raw?.[k];
    if (v === null || v === undefined || v === '') continue;
    out[k] = v;
  }
  return out as ContainerConfig;
}

/**
 * Rebuild the history and per-layer sizes from `/history` (newest first). The API does not say
 * which entries are empty layers; entries with bytes are layers, and when that leaves layers
 * unaccounted for, 0-byte entries that are not config-only instructions are taken, oldest first.
 */
function historyAndLayers(rows: HistoryRow[], diffIds: Digest[], total: number): { history?: HistoryEntry[]; layers: ImageLayer[] } {
  const oldest = [...rows].reverse();
  const noHistory = oldest.length === diffIds.length && oldest.every((r) => r.Created === 0 && r.CreatedBy === '' && r.Comment === '');
  if (noHistory || oldest.length === 0) {
    const sizes = noHistory ? oldest.map((r) => r.Size) : diffIds.map((_, i) => (i === diffIds.length - 1 ? total : 0));
    return { layers: diffIds.map((diffId, i) => ({ diffId, size: sizes[i] ?? 0, snapshot: '' })) };
  }
  const isLayer = oldest.map((r) => r.Size > 0);
  let count = isLayer.filter(Boolean).length;
  for (const pass of [(r: HistoryRow) => !METADATA_ONLY.test(r.CreatedBy), () => true]) {
    for (let i = 0; i < oldest.length && count < diffIds.length; i++) {
      if (!isLayer[i] && pass(oldest[i]!)) {
        isLayer[i] = true;
        count++;
      }
    }
  }
  const history: HistoryEntry[] = [];
  const sizes: number[] = [];
  oldest.forEach((r, i) => {
    const created = iso(r.Created);
    history.push({
      ...(created ? { created } : {}),
      ...(r.CreatedBy ? { created_by: r.CreatedBy } : {}),
      ...(r.Comment ? { comment: r.Comment } : {}),
      ...(isLayer[i] ? {} : { empty_layer: true }),
    });
    if (isLayer[i]) sizes.push(r.Size);
  });
  return { history, layers: diffIds.map((diffId, i) => ({ diffId, size: sizes[i] ?? 0, snapshot: '' })) };
}

/** Turn the daemon's inspect + history answers back into the record the embedded store keeps. */
export function recordFromApi(body: InspectBody, rows: HistoryRow[]): ImageRecord {
  const diffIds = (body.RootFS?.Layers ?? []) as Digest[];
  const { history, layers } = historyAndLayers(rows, diffIds, body.Size ?? 0);
  const created = body.Created && !body.Created.startsWith('0001-') ? body.Created : undefined;
  return {
    id: body.Id as Digest,
    config: {
      architecture: body.Architecture ?? '',
      os: body.Os ?? '',
      ...(body.Variant ? { variant: body.Variant } : {}),
      ...(created ? { created } : {}),
      ...(body.Author ? { author: body.Author } : {}),
      config: containerConfig(body.Config),
      rootfs: { type: 'layers', diff_ids: diffIds },
      ...(history ? { history } : {}),
    },
    layers,
    names: (body.RepoTags ?? []).filter((t) => t !== '<none>:<none>').map((t) => normalizeReference(t)),
    repoDigests: (body.RepoDigests ?? []).filter((d) => d !== '<none>@<none>').map((d) => normalizeReference(d)),
    created: body.Metadata?.LastTagTime && !body.Metadata.LastTagTime.startsWith('0001-') ? body.Metadata.LastTagTime : (created ?? ''),
  };
}

function unsupported(what: string): TbuildError {
  return new TbuildError('TB_INVALID_ARGUMENT', `${what} is not available through the daemon; run it without -H (embedded)`);
}

/** The image store, over the Engine API: same interface, the daemon's state. */
export class RemoteImageStore implements ImageStore {
  readonly #client: EngineClient;

  constructor(client: EngineClient) {
    this.#client = client;
  }

  async get(ref: string): Promise<ImageRecord | undefined> {
    try {
      return await this.resolve(ref);
    } catch (err) {
      if (isTbuildError(err, 'TB_IMAGE_NOT_FOUND')) return undefined;
      throw err;
    }
  }

  async resolve(ref: string): Promise<ImageRecord> {
    const body = await this.#client.json<InspectBody>('GET', `/images/${refPath(ref)}/json`);
    // By id from here on: a name could be moved between the two requests.
    const rows = await this.#client.json<HistoryRow[]>('GET', `/images/${refPath(body.Id)}/history`);
    return recordFromApi(body, rows ?? []);
  }

  async list(): Promise<ImageRecord[]> {
    const summaries = (await this.#client.json<Array<{ Id: string }>>('GET', '/images/json')) ?? [];
    const out: ImageRecord[] = [];
    // A few at a time: one inspect and one history per image.
    for (let i = 0; i < summaries.length; i += 8) {
      const batch = await Promise.all(summaries.slice(i, i + 8).map((s) => this.get(s.Id)));
      for (const r of batch) if (r) out.push(r);
    }
    return out;
  }

  async create(): Promise<ImageRecord> {
    throw unsupported('creating an image record');
  }

  async tag(ref: string, name: string): Promise<void> {
    if (name.includes('@')) throw new TbuildError('TB_REFERENCE_INVALID', 'refusing to create a tag with a digest reference');
    const colon = name.lastIndexOf(':');
    const hasTag = colon > name.lastIndexOf('/');
    await this.#client.call('POST', `/images/${refPath(ref)}/tag`, {
      query: { repo: hasTag ? name.slice(0, colon) : name, tag: hasTag ? name.slice(colon + 1) : 'latest' },
    });
  }

  /** Only a name another name keeps alive can be dropped remotely (the API has no bare untag). */
  async untag(name: string): Promise<string> {
    const img = await this.resolve(name);
    const full = normalizeReference(name);
    if (img.names.length < 2 || !img.names.includes(full)) throw unsupported(`untagging the last name of an image (${name})`);
    await this.#client.call('DELETE', `/images/${refPath(name)}`);
    return full;
  }

  async remove(ref: string, opts: { force?: boolean } = {}): Promise<Array<{ Untagged?: string; Deleted?: string }>> {
    const list = await this.#client.json<Array<{ Untagged?: string; Deleted?: string }>>('DELETE', `/images/${refPath(ref)}`, {
      query: { force: opts.force ? true : undefined },
    });
    return list ?? [];
  }

  setInUseCheck(): void {
    // The daemon's own container manager guards rmi.
  }

  async inUse(): Promise<ImageUser | undefined> {
    return undefined;
  }
}

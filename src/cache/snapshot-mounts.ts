import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TbuildError } from '../errors.js';
import { fsyncDir } from '../util/atomic.js';
import { MAX_MOUNT_OPTIONS } from '../util/mount.js';
import { mergeLayers } from './flatten.js';
import type { Mount } from './types.js';

/**
 * Mount computation for the overlay snapshotter: which directories a snapshot's mount stacks and
 * how they fit in one overlay mount. It describes mounts; it never performs one.
 */

/** Chains up to this depth are mounted layer by layer; deeper ones get flattened prefixes. */
export const MAX_DIRECT_LAYERS = 64;
/** Flattened prefixes end at depths that are multiples of this, so each is built once and reused. */
export const FLATTEN_STEP = 32;

/** Overlay options we always pass, so behaviour does not depend on the kernel's defaults:
 * no inode index (upper/lower pairs change between mounts), no redirects or metacopy (a layer
 * tar cannot express them; without them a directory rename copies up, which a tar can). */
const OVERLAY_FIXED = ['index=off', 'redirect_dir=off', 'metacopy=off'];

/**
 * One overlay mount. Absolute paths when they fit in a page; otherwise paths relative to the
 * snapshots directory `dir` with `cwd` set (a numeric id keeps each lowerdir to a few bytes).
 */
export function overlayMount(dir: string, lowers: string[], upper?: string, work?: string): Mount {
  const build = (rel: boolean): string[] => {
    const p = (x: string) => (rel ? x.slice(dir.length + 1) : x);
    const opts = [`lowerdir=${lowers.map(p).join(':')}`];
    if (upper && work) opts.push(`upperdir=${p(upper)}`, `workdir=${p(work)}`);
    return [...opts, ...OVERLAY_FIXED];
  };
  const abs = build(false);
  if (abs.join(',').length <= MAX_MOUNT_OPTIONS) return { type: 'overlay', source: 'overlay', options: abs };
  const rel = build(true);
  if (rel.join(',').length > MAX_MOUNT_OPTIONS) {
    throw new TbuildError('TB_MOUNT', `overlay options for ${lowers.length} layers exceed one page even with relative paths`);
  }
  return { type: 'overlay', source: 'overlay', options: rel, cwd: dir };
}

/** What the snapshotter tells this file about its records: ids only, no metadata. */
export interface ChainSource {
  /** Ids from `id` down to the base layer (top first). */
  idChain(id: number): number[];
  /** The `fs` directory of snapshot `id`. */
  fsDir(id: number): string;
}

/**
 * Lower directories for deep chains. A chain deeper than MAX_DIRECT_LAYERS is cut at the nearest
 * FLATTEN_STEP boundary below it: the layers above the cut stay separate, everything below is one
 * flattened copy, built once and kept in the boundary snapshot's directory (`<id>/flat`).
 */
export class LowerDirs {
  readonly #dir: string;
  readonly #chains: ChainSource;
  /** One build per boundary at a time: concurrent mounts of the same deep chain share it. */
  readonly #flattening = new Map<number, Promise<string>>();

  constructor(dir: string, chains: ChainSource) {
    this.#dir = dir;
    this.#chains = chains;
  }

  /** Lower directories (top first) for a mount on top of committed snapshot `id`. */
  async of(id: number): Promise<string[]> {
    const chain = this.#chains.idChain(id);
    const depth = chain.length;
    if (depth <= MAX_DIRECT_LAYERS) return chain.map((i) => this.#chains.fsDir(i));
    const boundaryDepth = Math.floor((depth - 1) / FLATTEN_STEP) * FLATTEN_STEP;
    const above = chain.slice(0, depth - boundaryDepth);
    const boundaryId = chain[depth - boundaryDepth]!;
    return [...above.map((i) => this.#chains.fsDir(i)), await this.#flat(boundaryId)];
  }

  /** The flattened copy of the whole chain ending at committed snapshot `id` (cached on disk). */
  #flat(id: number): Promise<string> {
    let p = this.#flattening.get(id);
    if (!p) {
      p = this.#buildFlat(id).finally(() => this.#flattening.delete(id));
      this.#flattening.set(id, p);
    }
    return p;
  }

  async #buildFlat(id: number): Promise<string> {
    const dest = join(this.#dir, String(id), 'flat');
    if (existsSync(dest)) return dest;
    const chain = this.#chains.idChain(id);
    const depth = chain.length;
    let base: string | undefined;
    let layers: number[];
    if (depth <= MAX_DIRECT_LAYERS) {
      layers = chain;
    } else {
      // Built on the previous boundary's copy, so each step merges FLATTEN_STEP layers, not all.
      const prevDepth = depth - FLATTEN_STEP;
      base = await this.#flat(chain[depth - prevDepth]!);
      layers = chain.slice(0, depth - prevDepth);
    }
    const tmp = join(this.#dir, String(id), '.flat-tmp');
    await rm(tmp, { recursive: true, force: true });
    await mergeLayers(base, layers.reverse().map((i) => this.#chains.fsDir(i)), tmp);
    await rename(tmp, dest);
    await fsyncDir(join(this.#dir, String(id)));
    return dest;
  }
}

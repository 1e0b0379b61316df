import { createHash } from 'node:crypto';
import { TbuildError } from '../errors.js';

/** `sha256:<64 hex>`; made only by `parseDigest` or the hashing helpers below. */
export type Digest = string & { readonly __brand: 'Digest' };

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function isDigest(s: string): s is Digest {
  return DIGEST_RE.test(s);
}

export function parseDigest(s: string): Digest {
  if (!DIGEST_RE.test(s)) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid digest: ${JSON.stringify(s)}`);
  return s as Digest;
}

export function sha256(data: string | Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;
}

/** The 64 hex characters of a digest. */
export function digestHex(d: Digest): string {
  return d.slice('sha256:'.length);
}

/** The 12 hex characters Docker shows for an image or container id (with or without `sha256:`). */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/** Stable JSON: object keys sorted at every depth, so equal values hash equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object' && !(v instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortKeys(x);
    }
    return out;
  }
  return v;
}

export function digestOf(value: unknown): Digest {
  return sha256(canonicalJson(value));
}

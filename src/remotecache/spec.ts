import { TbuildError } from '../errors.js';
import { isDigest, type Digest } from '../util/digest.js';
import type { CacheExportSpec, CacheImportSpec, CacheMode } from './types.js';

/** `k=v,k=v` as buildx writes it (values may be quoted to hold commas). */
export function parseCsvAttrs(text: string, flag: string): Map<string, string> {
  const out = new Map<string, string>();
  const fields: string[] = [];
  let cur = '';
  let quote = false;
  for (const ch of text) {
    if (ch === '"') quote = !quote;
    else if (ch === ',' && !quote) {
      fields.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (quote) throw invalid(flag, text, 'unbalanced quote');
  fields.push(cur);
  for (const f of fields) {
    if (!f.trim()) continue;
    const eq = f.indexOf('=');
    if (eq <= 0) throw invalid(flag, text, `${JSON.stringify(f)} is not key=value`);
    out.set(f.slice(0, eq).trim().toLowerCase(), f.slice(eq + 1).trim());
  }
  return out;
}

function invalid(flag: string, text: string, why: string): TbuildError {
  return new TbuildError('TB_INVALID_ARGUMENT', `${flag} ${JSON.stringify(text)}: ${why}`);
}

function bool(flag: string, key: string, v: string | undefined, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (/^(true|1)$/i.test(v) || v === '') return true;
  if (/^(false|0)$/i.test(v)) return false;
  throw new TbuildError('TB_INVALID_ARGUMENT', `${flag}: ${key}=${v} is not a boolean`);
}

/** Attributes BuildKit knows that tbuild does not carry out: refused by name, never ignored. */
const NOT_CARRIED_OUT: Record<string, string> = {
  'compression-level': 'layers are gzip-compressed at the default level',
  'force-compression': 'layers are gzip-compressed at the default level',
  store: 'the cache is always stored',
};

function takeOnly(flag: string, attrs: Map<string, string>, allowed: string[]): void {
  for (const k of attrs.keys()) {
    if (allowed.includes(k) || k === 'type') continue;
    const why = NOT_CARRIED_OUT[k];
    throw new TbuildError('TB_INVALID_ARGUMENT', `${flag}: attribute ${JSON.stringify(k)} is not supported${why ? ` (${why})` : ` for type=${attrs.get('type') ?? 'registry'}`}`);
  }
}

function mode(flag: string, v: string | undefined): CacheMode {
  if (v === undefined || v === 'min') return 'min';
  if (v === 'max') return 'max';
  throw new TbuildError('TB_INVALID_ARGUMENT', `${flag}: mode=${v}: want min or max`);
}

function compression(flag: string, v: string | undefined): void {
  if (v === undefined || v === 'gzip') return;
  throw new TbuildError('TB_INVALID_ARGUMENT', `${flag}: compression=${v} is not supported: cache layers are gzip-compressed`);
}

/** `--cache-to` (one value of the repeatable flag). */
export function parseCacheTo(text: string): CacheExportSpec {
  const flag = '--cache-to';
  const attrs = text.includes('=') ? parseCsvAttrs(text, flag) : new Map([['type', 'registry'], ['ref', text]]);
  const type = attrs.get('type') ?? (attrs.has('ref') ? 'registry' : undefined);
  if (type === 'inline') {
    takeOnly(flag, attrs, []);
    return { type: 'inline' };
  }
  const common = ['mode', 'image-manifest', 'oci-mediatypes', 'ignore-error', 'cache-mounts', 'compression'];
  if (type === 'registry' || type === 'local') {
    takeOnly(flag, attrs, type === 'registry' ? ['ref', ...common] : ['dest', 'tag', ...common]);
    compression(flag, attrs.get('compression'));
    const ociMediaTypes = bool(flag, 'oci-mediatypes', attrs.get('oci-mediatypes'), true);
    const imageManifest = bool(flag, 'image-manifest', attrs.get('image-manifest'), false);
    if (imageManifest && !ociMediaTypes) {
      throw new TbuildError('TB_INVALID_ARGUMENT', `${flag}: image-manifest=true needs oci-mediatypes=true (a Docker schema 2 manifest cannot carry a cache config)`);
    }
    const rest = {
      mode: mode(flag, attrs.get('mode')),
      imageManifest,
      ociMediaTypes,
      ignoreError: bool(flag, 'ignore-error', attrs.get('ignore-error'), false),
      cacheMounts: bool(flag, 'cache-mounts', attrs.get('cache-mounts'), false),
    };
    if (type === 'registry') {
      const ref = attrs.get('ref');
      if (!ref) throw invalid(flag, text, 'type=registry needs ref=');
      return { type, ref, ...rest };
    }
    const dest = attrs.get('dest');
    if (!dest) throw invalid(flag, text, 'type=local needs dest=');
    return { type, dest, tag: attrs.get('tag') || 'latest', ...rest };
  }
  throw invalid(flag, text, type ? `cache type ${JSON.stringify(type)} is not supported (registry, local, inline are)` : 'no type= and no ref=');
}

/** `--cache-from` (one value): `type=registry,ref=R`, a bare `R`, or `type=local,src=DIR`. */
export function parseCacheFrom(text: string): CacheImportSpec {
  const flag = '--cache-from';
  const attrs = text.includes('=') ? parseCsvAttrs(text, flag) : new Map([['type', 'registry'], ['ref', text]]);
  const type = attrs.get('type') ?? (attrs.has('ref') ? 'registry' : undefined);
  if (type === 'registry') {
    takeOnly(flag, attrs, ['ref']);
    const ref = attrs.get('ref');
    if (!ref) throw invalid(flag, text, 'type=registry needs ref=');
    return { type, ref };
  }
  if (type === 'local') {
    takeOnly(flag, attrs, ['src', 'tag', 'digest']);
    const src = attrs.get('src');
    if (!src) throw invalid(flag, text, 'type=local needs src=');
    const digest = attrs.get('digest');
    if (digest !== undefined && !isDigest(digest)) throw invalid(flag, text, `digest=${digest} is not a sha256 digest`);
    return { type, src, tag: attrs.get('tag') || 'latest', ...(digest ? { digest: digest as Digest } : {}) };
  }
  throw invalid(flag, text, type ? `cache type ${JSON.stringify(type)} is not supported (registry, local are)` : 'no type= and no ref=');
}

/** BuildKit's control API form (`CacheOptionsEntry`: Type + Attrs) into the same specs. */
export function cacheSpecFromAttrs(dir: 'to' | 'from', type: string, attrs: Record<string, string>): CacheExportSpec | CacheImportSpec {
  const text = [`type=${type}`, ...Object.entries(attrs).map(([k, v]) => (/[,"]/.test(v) ? `${k}="${v}"` : `${k}=${v}`))].join(',');
  return dir === 'to' ? parseCacheTo(text) : parseCacheFrom(text);
}

/** A spec back in flag form (what the CLI's remote engine sends in `cachefrom`/`cacheto`). */
export function formatCacheSpec(spec: CacheExportSpec | CacheImportSpec): string {
  const attrs: Record<string, string | boolean | undefined> = { ...spec };
  const key = (k: string): string => ({ imageManifest: 'image-manifest', ociMediaTypes: 'oci-mediatypes', ignoreError: 'ignore-error', cacheMounts: 'cache-mounts' })[k] ?? k;
  return Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${key(k)}=${/[,"]/.test(String(v)) ? `"${String(v)}"` : String(v)}`)
    .join(',');
}

/** A daemon cannot read or write its client's directories: `type=local` caches are the client's to handle. */
export function refuseLocalOverApi<T extends CacheExportSpec | CacheImportSpec>(spec: T, flag: string): T {
  if (spec.type === 'local') {
    throw new TbuildError('TB_INVALID_ARGUMENT', `${flag} type=local is not supported through a daemon (it would read or write the daemon's filesystem): use type=registry, or build with the embedded engine`);
  }
  return spec;
}

/** How a spec is shown in progress and messages: the reference or the directory. */
export function describeCache(spec: CacheImportSpec | CacheExportSpec): string {
  if (spec.type === 'registry') return spec.ref;
  if (spec.type === 'local') return 'dest' in spec ? spec.dest : spec.src;
  return 'inline';
}

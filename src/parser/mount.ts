import { posix } from 'node:path';
import { TbuildError } from '../errors.js';
import type { MountSpec, MountType } from './types.js';
import { withSuggestion } from './suggest.js';

const TYPES: readonly MountType[] = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'];
const KEYS = [
  'type', 'from', 'source', 'src', 'target', 'dst', 'destination', 'readonly', 'ro', 'readwrite', 'rw',
  'id', 'sharing', 'required', 'size', 'mode', 'uid', 'gid', 'env',
];

const bad = (raw: string, msg: string, details: Record<string, unknown> = {}): TbuildError =>
  new TbuildError('TB_PARSE_MOUNT', `--mount=${raw}: ${msg}`, { details: { mount: raw, ...details } });

/** Splits one CSV record the way Go's encoding/csv does (double quotes, `""` inside quotes). */
export function csvFields(raw: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (raw[i] === '"') {
      i++;
      for (;;) {
        if (i >= raw.length) throw bad(raw, 'extraneous or missing " in quoted field');
        if (raw[i] === '"') {
          if (raw[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += raw[i++];
      }
      if (i < raw.length && raw[i] !== ',') throw bad(raw, 'extraneous or missing " in quoted field');
    } else {
      const end = raw.indexOf(',', i);
      field = raw.slice(i, end < 0 ? raw.length : end);
      if (field.includes('"')) throw bad(raw, 'bare " in non-quoted field');
      i = end < 0 ? raw.length : end;
    }
    fields.push(field);
    if (i >= raw.length) return fields;
    i++; // the comma
  }
}

/** The raw `from=` value of a mount, without validating the rest (for stage dependencies). */
export function mountFrom(raw: string): string | undefined {
  let from: string | undefined;
  for (const f of csvFields(raw)) {
    const eq = f.indexOf('=');
    if (eq > 0 && f.slice(0, eq).toLowerCase() === 'from') from = f.slice(eq + 1);
  }
  return from;
}

function parseBool(raw: string, key: string, value: string): boolean {
  const v = value.toLowerCase();
  if (['1', 't', 'true'].includes(v)) return true;
  if (['0', 'f', 'false'].includes(v)) return false;
  throw bad(raw, `invalid value for ${key}: ${value}`, { key });
}

function parseUint(raw: string, key: string, value: string, radix: 8 | 10): number {
  const re = radix === 8 ? /^[0-7]+$/ : /^\d+$/;
  const n = re.test(value) ? parseInt(value, radix) : NaN;
  if (!Number.isSafeInteger(n) || n > 0xffffffff) throw bad(raw, `invalid value ${value} for ${key}`, { key });
  return n;
}

/** Go's path.Clean for the forms that matter here: no trailing slash, `.` and `..` resolved. */
function cleanPath(p: string): string {
  if (p === '') return '.';
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** Docker's RAMInBytes: `64m`, `1.5GiB`, `512k`, binary multiples. */
export function parseSize(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(value);
  if (!m) return undefined;
  const pow = m[2] ? 'kmgtp'.indexOf(m[2].toLowerCase()) + 1 : 0;
  return Math.floor(Number(m[1]) * 1024 ** pow);
}

/**
 * Parses one `RUN --mount` value with BuildKit's rules and defaults. `expand` is applied to each
 * value (the solver passes its stage scope); without it the values are taken as written.
 *
 * Defaults: type bind; read-only for bind, secret and ssh, read-write for cache and tmpfs;
 * cache: sharing `shared`, id = the cleaned target, mode 0755, uid/gid 0; secret: id = source, else
 * id, else the target's basename; target `/run/secrets/<id>` unless `env` is given; mode 0400,
 * uid/gid 0; ssh: id `default`, mode 0600, uid/gid 0 (the target, `/run/buildkit/ssh_agent.<n>`,
 * is numbered by the solver). A missing or relative target is the solver's to resolve against
 * the working directory, as BuildKit does (a target resolving to `/` is an error there).
 */
export function parseMount(raw: string, expand?: (value: string) => string): MountSpec {
  let type: MountType = 'bind';
  const spec: Partial<MountSpec> = {};
  let readonly: boolean | undefined;
  let requiredSeen = false;
  let sizeSeen = false;
  for (const field of csvFields(raw)) {
    if (field === '') continue;
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (eq < 0) {
      if (key === 'readonly' || key === 'ro') readonly = true;
      else if (key === 'readwrite' || key === 'rw') readonly = false;
      else if (key === 'required') {
        spec.required = true;
        requiredSeen = true;
      } else throw bad(raw, `invalid field '${field}' must be a key=value pair`, { key });
      continue;
    }
    const value = expand ? expand(field.slice(eq + 1)) : field.slice(eq + 1);
    switch (key) {
      case 'type': {
        const t = value.toLowerCase() as MountType;
        if (!TYPES.includes(t)) {
          const { message, suggestion } = withSuggestion(`unsupported mount type "${value}"`, value, TYPES);
          throw bad(raw, message, { key, suggestion });
        }
        type = t;
        break;
      }
      case 'target': case 'dst': case 'destination':
        spec.target = value;
        break;
      case 'source': case 'src':
        spec.source = value;
        break;
      case 'from':
        spec.from = value;
        break;
      case 'readonly': case 'ro':
        readonly = parseBool(raw, key, value);
        break;
      case 'readwrite': case 'rw':
        readonly = !parseBool(raw, key, value);
        break;
      case 'required':
        spec.required = parseBool(raw, key, value);
        requiredSeen = true;
        break;
      case 'id':
        spec.id = value;
        break;
      case 'sharing': {
        const v = value.toLowerCase();
        if (v !== 'shared' && v !== 'private' && v !== 'locked') throw bad(raw, `unsupported sharing value "${value}" (use shared, private or locked)`, { key });
        spec.sharing = v;
        break;
      }
      case 'mode':
        spec.mode = parseUint(raw, key, value, 8);
        break;
      case 'uid':
        spec.uid = parseUint(raw, key, value, 10);
        break;
      case 'gid':
        spec.gid = parseUint(raw, key, value, 10);
        break;
      case 'size': {
        const size = parseSize(value);
        if (size === undefined) throw bad(raw, `invalid size value ${value}`, { key });
        spec.size = size;
        sizeSeen = true;
        break;
      }
      case 'env':
        spec.env = value;
        break;
      default: {
        const { message, suggestion } = withSuggestion(`unexpected key '${key}' in '${field}'`, key, KEYS);
        throw bad(raw, message, { key, suggestion });
      }
    }
  }
  return finish(raw, type, spec, readonly, requiredSeen, sizeSeen);
}

function finish(raw: string, type: MountType, spec: Partial<MountSpec>, readonly: boolean | undefined, requiredSeen: boolean, sizeSeen: boolean): MountSpec {
  const fileInfo = type === 'cache' || type === 'secret' || type === 'ssh';
  for (const k of ['mode', 'uid', 'gid'] as const) {
    if (spec[k] !== undefined && !fileInfo) throw bad(raw, `${k} not allowed for "${type}" type mounts`, { key: k });
  }
  if (requiredSeen && type !== 'secret' && type !== 'ssh') throw bad(raw, `unexpected key 'required' for mount type '${type}'`, { key: 'required' });
  if (sizeSeen && type !== 'tmpfs') throw bad(raw, `unexpected key 'size' for mount type '${type}'`, { key: 'size' });
  if (spec.sharing !== undefined && type !== 'cache') throw bad(raw, `invalid cache sharing set for ${type} mount`, { key: 'sharing' });
  if (spec.from !== undefined && type === 'secret') throw bad(raw, 'secret mount should not have a from', { key: 'from' });

  const out: MountSpec = { type, readonly: readonly ?? !(type === 'cache' || type === 'tmpfs'), ...spec };
  switch (type) {
    case 'bind':
    case 'tmpfs':
      break;
    case 'cache':
      if (out.target !== undefined) out.id ??= cleanPath(out.target);
      out.sharing ??= 'shared';
      out.mode ??= 0o755;
      out.uid ??= 0;
      out.gid ??= 0;
      break;
    case 'secret':
      if (!out.source && !out.target && !out.id) throw bad(raw, 'invalid secret mount: one of id, source, target required');
      if (out.source && out.id) throw bad(raw, 'both source and id can\'t be set');
      out.id = out.source ?? out.id ?? posix.basename(cleanPath(out.target!));
      if (!out.target && out.env === undefined) out.target = `/run/secrets/${posix.basename(out.id)}`;
      out.required ??= false;
      out.mode ??= 0o400;
      out.uid ??= 0;
      out.gid ??= 0;
      break;
    case 'ssh':
      out.id ??= 'default';
      out.required ??= false;
      out.mode ??= 0o600;
      out.uid ??= 0;
      out.gid ??= 0;
      break;
  }
  return out;
}

import { TbuildError } from '../errors.js';
import type { VolumeMountSpec } from './types.js';

export const PROPAGATIONS = ['rprivate', 'private', 'rshared', 'shared', 'rslave', 'slave'] as const;
export type Propagation = (typeof PROPAGATIONS)[number];

const invalid = (msg: string) => new TbuildError('TB_INVALID_ARGUMENT', msg);

/**
 * Docker's `-v` syntax, for the CLI and the daemon's `Binds` alike: `/ctr` alone is an anonymous
 * volume; `src:dst[:opts]` with an absolute source is a bind (a missing host directory is created,
 * as Docker's `-v` does), anything else names a volume. `z`/`Z` relabel for SELinux, which this
 * host does not enforce, so they change nothing (as on Docker without SELinux).
 */
export function parseVolumeSpec(spec: string): VolumeMountSpec {
  const parts = spec.split(':');
  if (parts.length === 1) {
    if (!spec.startsWith('/')) throw invalid(`invalid volume specification: '${spec}': mount path must be absolute`);
    return { type: 'volume', source: '', target: spec, readonly: false };
  }
  if (parts.length > 3 || !parts[1]) throw invalid(`invalid volume specification: '${spec}'`);
  const [source, target, mode = ''] = parts as [string, string, string?];
  if (!target.startsWith('/')) throw invalid(`invalid volume specification: '${spec}': mount path must be absolute`);
  if (!source) throw invalid(`invalid volume specification: '${spec}'`);
  const opts = mode.split(',').filter(Boolean);
  for (const o of opts) if (!['ro', 'rw', 'z', 'Z', 'nocopy', ...PROPAGATIONS].includes(o)) throw invalid(`invalid mode: ${o}`);
  if (opts.includes('ro') && opts.includes('rw')) throw invalid(`invalid mode: ${mode}`);
  const propagation = opts.find((o): o is Propagation => (PROPAGATIONS as readonly string[]).includes(o));
  const bind = source.startsWith('/');
  if (bind && opts.includes('nocopy')) throw invalid(`invalid mode: nocopy applies to volumes, not to bind mounts ('${spec}')`);
  if (!bind && propagation) throw invalid(`invalid mode: propagation ${propagation} applies to bind mounts, not to volumes ('${spec}')`);
  return {
    type: bind ? 'bind' : 'volume',
    source,
    target,
    readonly: opts.includes('ro'),
    ...(bind ? { createSource: true } : {}),
    ...(propagation ? { propagation } : {}),
    ...(opts.includes('nocopy') ? { noCopy: true } : {}),
  };
}

/** The spec back in `-v` syntax (what a client sends as a `Binds` entry); undefined when it needs `--mount`. */
export function volumeSpecString(m: VolumeMountSpec): string | undefined {
  if (m.type === 'tmpfs' || m.volumeLabels || (m.type === 'bind' && !m.createSource)) return undefined;
  if (m.type === 'volume' && !m.source) return m.readonly || m.noCopy ? undefined : m.target;
  const opts = [...(m.readonly ? ['ro'] : []), ...(m.propagation ? [m.propagation] : []), ...(m.noCopy ? ['nocopy'] : [])];
  return `${m.source}:${m.target}${opts.length ? `:${opts.join(',')}` : ''}`;
}

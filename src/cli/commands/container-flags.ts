/** Docker's `run` flag syntaxes: sizes, volume specs, restart policies. */
import type { CreateContainerOptions, VolumeMountSpec } from '../../containers/types.js';
import { TbuildError } from '../../errors.js';

/** Docker's RAMInBytes: a number with an optional b/k/m/g/t (binary) suffix. */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?$/i.exec(s.trim());
  if (!m) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid size: '${s}'`);
  const mult = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'b' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * mult);
}

/** `-v SRC:DST[:ro]`, `-v NAME:DST`, `-v DST` (anonymous volume). */
export function parseVolume(spec: string): VolumeMountSpec {
  const parts = spec.split(':');
  if (parts.length === 1) return { type: 'volume', source: '', target: parts[0]!, readonly: false };
  const [source, target, mode = ''] = parts as [string, string, string?];
  if (parts.length > 3 || !target?.startsWith('/')) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid volume specification: '${spec}'`);
  const ro = mode.split(',').includes('ro');
  return { type: source.startsWith('/') ? 'bind' : 'volume', source, target, readonly: ro };
}

export function parseRestart(s: string): NonNullable<CreateContainerOptions['restartPolicy']> {
  const [name, max] = s.split(':');
  if (name !== 'no' && name !== 'always' && name !== 'unless-stopped' && name !== 'on-failure') {
    throw new TbuildError('TB_INVALID_ARGUMENT', `invalid restart policy: ${s}`);
  }
  if (max !== undefined && (name !== 'on-failure' || !/^\d+$/.test(max))) {
    throw new TbuildError('TB_INVALID_ARGUMENT', `invalid restart policy: ${s}`);
  }
  return { name, ...(max !== undefined ? { maximumRetryCount: Number(max) } : {}) };
}

import { TbuildError } from '../errors.js';
import { PROXY_ARGS } from '../parser/scope.js';
import type { ResolvedDockerfile } from '../parser/types.js';
import type { BuildOptions } from './types.js';

/**
 * SOURCE_DATE_EPOCH for this build: the build's own, else the `--build-arg SOURCE_DATE_EPOCH=…`
 * BuildKit 0.13 reads, else the engine's. It sets the image's times and clamps new layers' mtimes.
 */
export function sourceDateEpoch(opts: BuildOptions, buildArgs: Record<string, string>, engine: number | undefined): number | undefined {
  if (opts.sourceDateEpoch !== undefined) return opts.sourceDateEpoch;
  const arg = buildArgs.SOURCE_DATE_EPOCH;
  if (arg === undefined || arg === '') return engine;
  if (!/^\d+$/.test(arg)) throw new TbuildError('TB_INVALID_ARGUMENT', `--build-arg SOURCE_DATE_EPOCH=${arg}: want seconds since 1970 (digits only)`);
  return Number(arg);
}

/** Build args no ARG of the built stages declares (BuildKit's warning); its own args never count. */
export function unconsumedArgs(resolved: ResolvedDockerfile, buildArgs: Record<string, string>): string[] {
  const declared = new Set<string>(resolved.dockerfile.globalArgs.flatMap((a) => a.args.map((d) => d.key)));
  for (const i of resolved.needed) {
    for (const ins of resolved.stages[i]!.stage.instructions) if (ins.kind === 'ARG') for (const d of ins.args) declared.add(d.key);
  }
  const builtin = (k: string) => PROXY_ARGS.includes(k) || k.startsWith('BUILDKIT_') || k === 'SOURCE_DATE_EPOCH';
  return Object.keys(buildArgs).filter((k) => !declared.has(k) && !builtin(k)).sort();
}

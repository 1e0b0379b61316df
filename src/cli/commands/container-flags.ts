/** Docker's `run` flag syntaxes: sizes, volume specs, restart policies. */
import type { CreateContainerOptions, HealthConfig, VolumeMountSpec } from '../../containers/types.js';
import { parseVolumeSpec } from '../../containers/volume-spec.js';
import { parseGoDuration } from '../../parser/duration.js';
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
  return parseVolumeSpec(spec);
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

/** `--health-*` and `--no-healthcheck` (commander's `--no-` form sets `healthcheck: false`). */
export interface HealthFlags {
  healthCmd?: string;
  healthInterval?: string;
  healthTimeout?: string;
  healthRetries?: string;
  healthStartPeriod?: string;
  healthStartInterval?: string;
  healthcheck?: boolean;
}

export function healthFlags(f: HealthFlags): HealthConfig | undefined {
  const given = f.healthCmd !== undefined || f.healthInterval || f.healthTimeout || f.healthRetries || f.healthStartPeriod || f.healthStartInterval;
  if (f.healthcheck === false) {
    if (given) throw new TbuildError('TB_INVALID_ARGUMENT', '--no-healthcheck conflicts with --health-* options');
    return { Test: ['NONE'] };
  }
  if (!given) return undefined;
  const dur = (flag: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const ns = parseGoDuration(v);
    if (ns === undefined || ns < 0) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid argument "${v}" for "${flag}" flag: not a duration`);
    return ns || undefined;
  };
  const h: HealthConfig = {};
  if (f.healthCmd !== undefined) h.Test = ['CMD-SHELL', f.healthCmd];
  const interval = dur('--health-interval', f.healthInterval);
  const timeout = dur('--health-timeout', f.healthTimeout);
  const startPeriod = dur('--health-start-period', f.healthStartPeriod);
  const startInterval = dur('--health-start-interval', f.healthStartInterval);
  if (interval) h.Interval = interval;
  if (timeout) h.Timeout = timeout;
  if (startPeriod) h.StartPeriod = startPeriod;
  if (startInterval) h.StartInterval = startInterval;
  if (f.healthRetries !== undefined) {
    if (!/^\d+$/.test(f.healthRetries)) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid argument "${f.healthRetries}" for "--health-retries" flag`);
    if (Number(f.healthRetries)) h.Retries = Number(f.healthRetries);
  }
  return h;
}

export function stopTimeoutFlag(v: string): number {
  if (!/^-?\d+$/.test(v)) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid argument "${v}" for "--stop-timeout" flag`);
  return Number(v);
}

export function envFlag(e: string): string {
  // `-e NAME` passes the caller's value through, as Docker does
  return e.includes('=') ? e : `${e}=${process.env[e] ?? ''}`;
}

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { constants as osConstants } from 'node:os';
import { TbuildError } from '../errors.js';
import type { ExitStatus } from './types.js';

/** Turning what runc and its children report into an ExitStatus, Docker's way. */

const SIGNALS = osConstants.signals as Record<string, number>;

function signalName(n: number): string | undefined {
  return Object.keys(SIGNALS).find((k) => SIGNALS[k] === n);
}

/** A child's close (`code`, or the signal that killed it) as a shell-style exit code (128+n). */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  return code ?? 128 + (signal ? SIGNALS[signal] ?? 9 : 9);
}

/** 128+n for a signal number n: the process was killed, whatever runc's log says. */
export function isSignalExit(code: number): boolean {
  return code > 128 && code < 128 + 65;
}

/** The status for `code`, naming the signal when it is a 128+n death. */
export function exitStatus(code: number): ExitStatus {
  const status: ExitStatus = { exitCode: code };
  if (isSignalExit(code)) {
    const name = signalName(code - 128);
    if (name) status.signal = name;
  }
  return status;
}

/**
 * runc exits 1 (or 255) both when the process does and when runc itself fails; its log (in the
 * bundle) tells which. A missing or non-executable command maps to 127/126 as Docker reports
 * them; any other runtime failure throws.
 */
export async function runtimeError(runtime: string, bundle: string): Promise<ExitStatus | undefined> {
  return runtimeLogError(runtime, join(bundle, 'runc.log'));
}

/** `runtimeError` for a log file at `logPath` (an exec has no bundle of its own). */
export async function runtimeLogError(runtime: string, logPath: string): Promise<ExitStatus | undefined> {
  const text = await readFile(logPath, 'utf8').catch(() => '');
  const errors = text
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      try {
        return JSON.parse(l) as { level?: string; msg?: string };
      } catch {
        return { level: 'error', msg: l };
      }
    })
    .filter((e) => e.level === 'error' || e.level === 'fatal');
  if (!errors.length) return undefined;
  const msg = errors.map((e) => e.msg ?? '').join('; ');
  if (/executable file not found|no such file or directory/.test(msg) && /exec:|starting container process|start container process/.test(msg)) {
    return { exitCode: 127, error: msg };
  }
  if (/permission denied/.test(msg) && /exec:|container process/.test(msg)) return { exitCode: 126, error: msg };
  throw new TbuildError('TB_RUNTIME_FAILED', `${runtime}: ${msg}`, { details: { log: msg } });
}

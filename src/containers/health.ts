import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { ContainerRuntime, ProcessSpec } from '../exec/types.js';
import type { HealthConfig, HealthState } from './types.js';
import { containerDir, writeJsonReplace } from './store.js';

/**
 * HEALTHCHECK, run by the container's monitor (the shim) as dockerd runs it: after the start
 * period, every interval the test command is exec'd into the container; exit 0 is a pass, and
 * `retries` failures in a row make the container unhealthy (failures within the start period do
 * not count, a pass there ends it). The state goes to health.json beside state.json, so the
 * shim's own state writes and these never overwrite each other.
 */

const NS = 1_000_000;
/** Docker's defaults. */
export const HEALTH_DEFAULTS = { interval: 30_000, timeout: 30_000, startPeriod: 0, startInterval: 5_000, retries: 3 };
/** Docker keeps the last five results and at most 4 KiB of output each. */
const KEEP_RESULTS = 5;
const MAX_OUTPUT = 4096;

export const HEALTH_FILE = 'health.json';

/** The effective healthcheck: the container's own over the image's; undefined when none or `NONE`. */
export function effectiveHealth(own: HealthConfig | undefined, image: HealthConfig | undefined): HealthConfig | undefined {
  const merged: HealthConfig = { ...(image ?? {}), ...(own ?? {}) };
  if (own?.Test?.length === 0 && image?.Test) merged.Test = image.Test;
  if (!merged.Test?.length || merged.Test[0] === 'NONE') return undefined;
  return merged;
}

/** The exec argv of a test: `CMD args…` as is, `CMD-SHELL cmd` through /bin/sh -c. */
export function healthArgv(test: string[]): string[] {
  const [kind, ...rest] = test;
  if (kind === 'CMD') return rest;
  if (kind === 'CMD-SHELL') return ['/bin/sh', '-c', rest.join(' ')];
  throw new Error(`unknown healthcheck type ${kind}`);
}

export async function readHealth(root: string, id: string): Promise<HealthState | undefined> {
  try {
    return JSON.parse(await readFile(join(containerDir(root, id), HEALTH_FILE), 'utf8')) as HealthState;
  } catch {
    return undefined;
  }
}

/** A bounded sink for a probe's output. */
function capture(): { stream: Writable; text: () => string } {
  let buf = Buffer.alloc(0);
  const stream = new Writable({
    write(chunk: Buffer, _e, cb) {
      if (buf.length < MAX_OUTPUT) buf = Buffer.concat([buf, chunk.subarray(0, MAX_OUTPUT - buf.length)]);
      cb();
    },
  });
  return { stream, text: () => buf.toString('utf8') };
}

/**
 * Probe until `stop` is called. `process` is the container's process spec (env, user, cwd), which
 * the probe inherits as an exec does.
 */
export function monitorHealth(opts: {
  root: string;
  id: string;
  rootfs: string;
  runtime: ContainerRuntime;
  config: HealthConfig;
  process: Omit<ProcessSpec, 'args' | 'tty'>;
}): { stop: () => Promise<void> } {
  const { root, id, config } = opts;
  const interval = config.Interval ? config.Interval / NS : HEALTH_DEFAULTS.interval;
  const timeout = config.Timeout ? config.Timeout / NS : HEALTH_DEFAULTS.timeout;
  const startPeriod = config.StartPeriod ? config.StartPeriod / NS : HEALTH_DEFAULTS.startPeriod;
  const startInterval = config.StartInterval ? config.StartInterval / NS : HEALTH_DEFAULTS.startInterval;
  const retries = config.Retries && config.Retries > 0 ? config.Retries : HEALTH_DEFAULTS.retries;
  const started = Date.now();
  let state: HealthState = { Status: 'starting', FailingStreak: 0, Log: [] };
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let wake: () => void = () => {};
  const file = join(containerDir(root, id), HEALTH_FILE);
  const save = () => writeJsonReplace(file, state).catch(() => {});

  const probe = async (): Promise<void> => {
    const out = capture();
    const start = new Date();
    let exitCode: number;
    let ended: (() => void) | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      const t = setTimeout(() => resolve('timeout'), timeout);
      ended = () => clearTimeout(t);
    });
    let pid = 0;
    const run = opts.runtime.execProcess(id, opts.rootfs, { ...opts.process, args: healthArgv(config.Test!) }, { stdout: out.stream, stderr: out.stream, started: (p) => (pid = p) });
    const r = await Promise.race([run.then((s) => s.exitCode, () => -1), deadline]);
    ended?.();
    let output = out.text();
    if (r === 'timeout') {
      if (pid) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await run.catch(() => undefined);
      exitCode = -1;
      output = `Health check exceeded timeout (${timeout / 1000}s)`;
    } else exitCode = r;
    const inStartPeriod = Date.now() - started < startPeriod;
    if (exitCode === 0) {
      state = { ...state, Status: 'healthy', FailingStreak: 0 };
    } else if (!inStartPeriod) {
      const streak = state.FailingStreak + 1;
      state = { ...state, FailingStreak: streak, Status: streak >= retries ? 'unhealthy' : state.Status };
    }
    state.Log = [...state.Log, { Start: start.toISOString(), End: new Date().toISOString(), ExitCode: exitCode, Output: output }].slice(-KEEP_RESULTS);
    await save();
  };

  const loop = async () => {
    await save();
    while (!stopped) {
      // Docker probes at start-interval while starting within the start period, else at interval
      const wait = state.Status === 'starting' && Date.now() - started < startPeriod ? startInterval : interval;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, wait);
      });
      if (stopped) break;
      running = probe().catch(() => {});
      await running;
    }
  };
  void loop();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      wake();
      await running;
    },
  };
}

/**
 * Report each change of a running container's health status (Docker's `health_status: …`
 * events) until `running()` says it stopped. A light poll of health.json: the shim, another
 * process, writes it.
 */
export async function watchHealth(root: string, id: string, running: () => Promise<boolean>, changed: (status: 'healthy' | 'unhealthy') => void, everyMs = 200): Promise<void> {
  let last: string | undefined;
  while (await running()) {
    const h = await readHealth(root, id);
    if (h && h.Status !== last) {
      if (h.Status !== 'starting') changed(h.Status);
      last = h.Status;
    }
    await new Promise((r) => setTimeout(r, everyMs).unref());
  }
}

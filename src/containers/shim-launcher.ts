import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { moduleEntry } from '../util/module-entry.js';
import { containerDir, STANDBY_ARG } from './store.js';

/**
 * Starts container monitors (shims). A shim is a node process in its own session, so its boot
 * (tens of ms) sits on every start's critical path; a standby shim started ahead of need has its
 * modules loaded and only waits for a container id on a pipe. The pipe is also its leash: when it
 * closes (this process ended or closed the launcher) an unassigned standby exits.
 */
export class ShimLauncher {
  readonly #root: string;
  #standby: ChildProcess | undefined;
  #keepWarm = false;
  #closed = false;

  constructor(root: string) {
    this.#root = root;
  }

  #command(): { args: string[]; cwd: string } {
    return moduleEntry(import.meta.url, 'containers', 'shim');
  }

  /** Boot a standby shim now, unless one is waiting already (a start is expected soon). */
  prewarm(): void {
    if (this.#standby || this.#closed) return;
    const { args, cwd } = this.#command();
    const child = spawn(process.execPath, [...args, this.#root, STANDBY_ARG], { detached: true, stdio: ['pipe', 'ignore', 'ignore'], cwd });
    child.on('error', () => {});
    child.stdin!.on('error', () => {});
    child.unref();
    // neither the child nor its pipe may keep this process alive
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    child.once('exit', () => {
      if (this.#standby === child) this.#standby = undefined;
    });
    this.#standby = child;
  }

  /** Keep a standby at all times: each launch boots the next one (long-lived callers). */
  keepWarm(): void {
    this.#keepWarm = true;
    this.prewarm();
  }

  /** Give container `id` to the standby when one is waiting, else spawn a shim for it; returns its pid. */
  launch(id: string): number {
    const sb = this.#standby;
    this.#standby = undefined;
    if (sb?.pid && sb.exitCode === null && sb.signalCode === null && sb.stdin?.writable) {
      sb.stdin.end(id + '\n');
      // back-to-back runs come sooner than a node boot: start the next one now
      if (this.#keepWarm) setImmediate(() => this.prewarm());
      return sb.pid;
    }
    sb?.stdin?.end();
    const { args, cwd } = this.#command();
    const logFd = openSync(join(containerDir(this.#root, id), 'shim.log'), 'a');
    try {
      const child = spawn(process.execPath, [...args, this.#root, id], { detached: true, stdio: ['ignore', logFd, logFd], cwd });
      child.on('error', () => {});
      child.unref();
      return child.pid ?? 0;
    } finally {
      closeSync(logFd);
    }
  }

  /** Let the standby go (it exits on its own); containers already launched are not affected. */
  close(): void {
    this.#closed = true;
    this.#standby?.stdin?.end();
    this.#standby = undefined;
  }
}

import type { ContainerRuntime, ExitStatus, ProcessIO, ProcessSpec, RunningContainer } from './types.js';
import { parsePs } from './ps.js';

/** A container started with `Executor.start`: runc verbs against its id. */
export class RuncContainer implements RunningContainer {
  readonly id: string;
  readonly pid: number;
  readonly #ex: ContainerRuntime;
  readonly #rootfs: string;
  readonly #done: Promise<ExitStatus>;

  constructor(ex: ContainerRuntime, id: string, rootfs: string, pid: number, done: Promise<ExitStatus>) {
    this.#ex = ex;
    this.id = id;
    this.#rootfs = rootfs;
    this.pid = pid;
    this.#done = done;
  }

  wait(): Promise<ExitStatus> {
    return this.#done;
  }

  async kill(signal: NodeJS.Signals | number = 'SIGKILL'): Promise<void> {
    const sig = typeof signal === 'number' ? String(signal) : signal.replace(/^SIG/, '');
    await this.#ex.runtimeCommand(['kill', this.id, sig]);
  }

  exec(process: ProcessSpec, io: ProcessIO): Promise<ExitStatus> {
    return this.#ex.execProcess(this.id, this.#rootfs, process, io);
  }

  async pause(): Promise<void> {
    await this.#ex.runtimeCommand(['pause', this.id]);
  }

  async resume(): Promise<void> {
    await this.#ex.runtimeCommand(['resume', this.id]);
  }

  async top(): Promise<{ titles: string[]; processes: string[][] }> {
    return parsePs(await this.#ex.runtimeCommand(['ps', this.id, '-ef']));
  }
}

import type { Executor, ExitStatus, ProcessIO, RunningContainer, RunSpec } from '../../src/exec/types.js';

export interface FakeRun {
  id: string;
  args: string[];
  started: number;
  ended?: number;
  aborted: boolean;
}

/**
 * An Executor that runs nothing: the command words script it.
 * `sleep MS` waits, `exit N` returns exit code N after `sleep` (if given), `echo TEXT` writes TEXT
 * to stdout. Every run is recorded with its timing and whether the abort signal reached it.
 */
export class FakeExecutor implements Executor {
  readonly runs: FakeRun[] = [];
  #running = 0;
  peak = 0;

  async run(id: string, spec: RunSpec, io: ProcessIO, signal?: AbortSignal): Promise<ExitStatus> {
    const args = spec.process.args;
    const rec: FakeRun = { id, args, started: Date.now(), aborted: false };
    this.runs.push(rec);
    this.#running++;
    this.peak = Math.max(this.peak, this.#running);
    try {
      let code = 0;
      for (let i = 0; i < args.length; i++) {
        const w = args[i];
        if (w === 'sleep') await this.#sleep(Number(args[++i]), signal, rec);
        else if (w === 'exit') code = Number(args[++i]);
        else if (w === 'echo') io.stdout?.write(`${args[++i]}\n`);
      }
      if (rec.aborted) return { exitCode: 137, signal: 'SIGKILL' };
      return { exitCode: code };
    } finally {
      rec.ended = Date.now();
      this.#running--;
    }
  }

  #sleep(ms: number, signal: AbortSignal | undefined, rec: FakeRun): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) {
        rec.aborted = true;
        return resolve();
      }
      const t = setTimeout(resolve, ms);
      signal?.addEventListener(
        'abort',
        () => {
          rec.aborted = true;
          clearTimeout(t);
          resolve();
        },
        { once: true },
      );
    });
  }

  start(): Promise<RunningContainer> {
    throw new Error('FakeExecutor.start is not used by the solver');
  }
}

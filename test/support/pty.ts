import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * A command under a real terminal: util-linux `script` gives it a pty and relays our pipes to it,
 * as a user's terminal would (keystrokes in, screen out). `resize` sets the pty's size, so the
 * kernel sends the command SIGWINCH as a terminal emulator's resize does.
 */
export interface PtySession {
  child: ChildProcess;
  /** Everything the terminal showed so far. */
  output(): string;
  type(keys: string | Buffer): void;
  /** Resolves once the output matches `re` (rejects after `timeoutMs`). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  resize(rows: number, cols: number): void;
  /** Resolves with the exit code once the command ended. */
  exited: Promise<number | null>;
  kill(): void;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function spawnPty(argv: string[], opts: { env?: NodeJS.ProcessEnv; rows?: number; cols?: number } = {}): PtySession {
  const size = `stty rows ${opts.rows ?? 24} cols ${opts.cols ?? 80}`;
  const child = spawn('script', ['-qefc', `${size}; exec ${argv.map(shellQuote).join(' ')}`, '/dev/null'], {
    env: opts.env ?? process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters = new Set<() => void>();
  const onOut = (d: Buffer) => {
    out += d.toString();
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onOut);
  child.stderr!.on('data', onOut);
  child.stdin!.on('error', () => {});
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    type: (keys) => void child.stdin!.write(keys),
    waitFor(re, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = re.exec(out);
          if (!m) return;
          cleanup();
          resolve(m[0]);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`terminal never showed ${re}; it showed:\n${out}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    resize(rows, cols) {
      // the command is script's child (the shell exec'd it); its fd 0 is the pty's slave
      const pid = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/)[0];
      execFileSync('stty', ['-F', `/proc/${pid}/fd/0`, 'rows', String(rows), 'cols', String(cols)]);
    },
    exited,
    kill: () => void child.kill('SIGKILL'),
  };
}

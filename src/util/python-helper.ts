import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { TbuildError } from '../errors.js';

/** Appended to every script: the request loop around its `handle`. */
const LOOP = String.raw`
import sys as _sys, json as _json
for _line in _sys.stdin:
    try:
        _res = {'ok': handle(_json.loads(_line))}
    except Exception as _e:
        _res = {'error': repr(_e)}
    _sys.stdout.write(_json.dumps(_res) + '\n')
    _sys.stdout.flush()
`;

const PYTHON = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => existsSync(p)) ?? 'python3';

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface Running {
  child: ChildProcessWithoutNullStreams;
  /** Requests written to this process, answered in order. */
  pending: Pending[];
  buf: string;
  stderr: string;
}

/**
 * A long-lived python3 helper (Debian's `python3`) running `script`, which defines `handle(req)`:
 * one JSON request per line in, one JSON answer per line out (`{"ok": handle(req)}`, or
 * `{"error": …}` for what it raised), answered in order. Started on first
 * use, kept while requests keep coming, and stopped after `idleMs` without any; it never holds
 * our process open while idle. For the system calls Node has no binding for.
 */
export class PythonHelper {
  readonly #name: string;
  readonly #script: string;
  readonly #idleMs: number | undefined;

  /** `idleMs` undefined: kept until this process exits (its state outlives any one request). */
  constructor(name: string, script: string, idleMs: number | undefined) {
    this.#name = name;
    this.#script = script + LOOP;
    this.#idleMs = idleMs;
  }

  /** The running process and what it owes; a stopped process's exit settles only its own requests. */
  #child: Running | undefined;
  #idle: NodeJS.Timeout | undefined;

  #start(): Running {
    const child = spawn(PYTHON, ['-I', '-S', '-u', '-c', this.#script], { stdio: ['pipe', 'pipe', 'pipe'] });
    const run: Running = { child, pending: [], buf: '', stderr: '' };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (c: string) => {
      run.buf += c;
      let nl: number;
      while ((nl = run.buf.indexOf('\n')) !== -1) {
        const line = run.buf.slice(0, nl);
        run.buf = run.buf.slice(nl + 1);
        const p = run.pending.shift();
        if (!p) continue;
        const msg = JSON.parse(line) as { ok?: unknown; error?: string };
        if (msg.error !== undefined) p.reject(new TbuildError('TB_INTERNAL', `${this.#name}: ${msg.error}`));
        else p.resolve(msg.ok);
      }
      if (this.#child === run) this.#settle();
    });
    child.stderr.on('data', (c: Buffer) => {
      run.stderr = (run.stderr + c.toString()).slice(-2000);
    });
    const fail = (why: string) => {
      if (this.#child === run) this.#child = undefined;
      const err = new TbuildError('TB_INTERNAL', `${this.#name} (${PYTHON}) ${why}${run.stderr ? `: ${run.stderr.trim()}` : ''}`);
      for (const p of run.pending.splice(0)) p.reject(err);
    };
    child.on('error', (e) => fail(`could not run: ${e.message}`));
    child.on('exit', (code, sig) => fail(`exited (${sig ?? code})`));
    child.stdin.on('error', () => {}); // reported through 'exit'
    return run;
  }

  /** While idle, let the process exit without waiting for us; stop the helper after a while. */
  #settle(): void {
    const run = this.#child;
    if (!run) return;
    const { child } = run;
    if (run.pending.length) {
      if (this.#idle) clearTimeout(this.#idle);
      this.#idle = undefined;
      child.ref();
      (child.stdout as unknown as { ref(): void }).ref();
      return;
    }
    child.unref();
    (child.stdout as unknown as { unref(): void }).unref();
    (child.stderr as unknown as { unref(): void }).unref();
    (child.stdin as unknown as { unref(): void }).unref();
    if (this.#idleMs === undefined) return;
    this.#idle ??= setTimeout(() => {
      this.#idle = undefined;
      if (!run.pending.length && this.#child === run) {
        this.#child = undefined;
        child.stdin.end();
      }
    }, this.#idleMs).unref();
  }

  /** Whether its process is running now (a request to it starts none). */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Requests sent and not yet answered. */
  get pending(): number {
    return this.#child?.pending.length ?? 0;
  }

  /** Start the process now if it is not running, so a request soon after does not wait for it. */
  warm(): void {
    if (this.#child) return;
    this.#child = this.#start();
    this.#settle();
  }

  request(req: unknown): Promise<unknown> {
    this.#child ??= this.#start();
    const run = this.#child;
    const p = new Promise<unknown>((resolve, reject) => run.pending.push({ resolve, reject }));
    this.#settle();
    run.child.stdin.write(JSON.stringify(req) + '\n');
    return p;
  }
}


import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { constants, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { TbuildError } from '../errors.js';

/**
 * Children started by a small helper process instead of by this one. Node forks the whole process
 * for every spawn, and blocks until the child has exec'd: ~4 ms for a bare node here and ~7 ms
 * for a daemon, much of it the hypervisor copying page tables, after which every page this
 * process writes faults once more. python3 starts children with vfork (~0.5 ms). As containerd's
 * shim does, the child's stdio are FIFOs (never sockets: `/dev/stdout` must open in the child),
 * made and opened by the helper, whose other ends this process opens non-blocking and reads
 * through libuv like any pipe. Only for children whose stdio are plain pipes (no terminal).
 */

const SCRIPT = String.raw`
import os, sys, json, threading, subprocess
_lock = threading.Lock()
def _send(o):
    with _lock:
        sys.stdout.write(json.dumps(o) + '\n')
        sys.stdout.flush()
_ready = {}
_running = {}
STREAMS = ('stdin', 'stdout', 'stderr')
def _close(fds):
    for fd in fds.values():
        try:
            os.close(fd)
        except OSError:
            pass
def prepare(req):
    # each FIFO open at the child's end before the caller opens its own: a reader then never sees
    # an end of file before the child has written, and no write is lost
    fds = {}
    try:
        for name in STREAMS:
            path = req['fifos'].get(name)
            if not path:
                continue
            os.mkfifo(path, 0o600)
            if name == 'stdin':
                fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
                os.set_blocking(fd, True)
            else:
                fd = os.open(path, os.O_RDWR)
            fds[name] = fd
    except BaseException:
        _close(fds)
        raise
    _ready[req['id']] = (req, fds)
def start(req):
    spec, fds = _ready.pop(req['id'])
    try:
        for path in spec['fifos'].values():
            os.unlink(path)
        io = [fds.get(name, subprocess.DEVNULL) for name in STREAMS]
        p = subprocess.Popen(spec['argv'], stdin=io[0], stdout=io[1], stderr=io[2], cwd=spec.get('cwd'), env=spec['env'], close_fds=True)
    finally:
        _close(fds)
    _running[req['id']] = p
    def wait():
        code = p.wait()
        _running.pop(req['id'], None)
        _send({'id': req['id'], 'exit': code})
    threading.Thread(target=wait, daemon=True).start()
    return p.pid
def cancel(req):
    spec, fds = _ready.pop(req['id'], (None, {}))
    _close(fds)
    for path in (spec or {'fifos': {}})['fifos'].values():
        try:
            os.unlink(path)
        except OSError:
            pass
def signal(req):
    p = _running.get(req['target'])
    if p is not None:
        p.send_signal(req['signal'])
import shutil, signal as _signal
# A terminal's Ctrl-C is for our caller, which decides; a TERM still ends us, tidily. Handlers,
# never SIG_IGN: an ignored signal stays ignored across exec, in runc and in the container.
_signal.signal(_signal.SIGINT, lambda *_: None)
_signal.signal(_signal.SIGTERM, lambda *_: sys.exit(0))
try:
    for line in sys.stdin:
        req = json.loads(line)
        try:
            _send({'id': req['id'], 'ok': globals()[req['op']](req)})
        except Exception as e:
            _send({'id': req['id'], 'error': str(e), 'errno': getattr(e, 'errno', None)})
finally:
    # our caller is gone: its FIFO directory goes too (children still running keep their ends)
    shutil.rmtree(sys.argv[1], ignore_errors=True)
`;

const PYTHON = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => existsSync(p)) ?? 'python3';

export interface HelperSpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
}

export interface HelperChild {
  pid: number;
  stdin?: Writable;
  stdout?: Readable;
  stderr?: Readable;
  /** How it ended: an exit code, or the signal that killed it (as `child_process` reports it). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

type Reply = { id: number; ok?: unknown; error?: string; errno?: number | null; exit?: number };

interface Helper {
  child: ChildProcessWithoutNullStreams;
  dir: string;
  buf: string;
  /** Answers to requests, and exits of the children started. */
  waiting: Map<number, (r: Reply) => void>;
  exits: Map<number, (r: Reply) => void>;
}

let helper: Helper | undefined;
let nextId = 1;

function start(): Helper {
  const dir = mkdtempSync(join(tmpdir(), 'tbuild-spawn-'));
  const child = spawn(PYTHON, ['-I', '-S', '-u', '-c', SCRIPT, dir], { stdio: ['pipe', 'pipe', 'pipe'] });
  const h: Helper = { child, dir, buf: '', waiting: new Map(), exits: new Map() };
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => (stderr = (stderr + c).slice(-2000)));
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (c: string) => {
    h.buf += c;
    for (let nl = h.buf.indexOf('\n'); nl >= 0; nl = h.buf.indexOf('\n')) {
      const r = JSON.parse(h.buf.slice(0, nl)) as Reply;
      h.buf = h.buf.slice(nl + 1);
      const to = r.exit !== undefined ? h.exits : h.waiting;
      const fn = to.get(r.id);
      to.delete(r.id);
      fn?.(r);
    }
  });
  const fail = (err: Error): void => {
    if (helper === h) helper = undefined;
    for (const fn of [...h.waiting.values(), ...h.exits.values()]) fn({ id: 0, error: err.message });
    h.waiting.clear();
    h.exits.clear();
    rmSync(dir, { recursive: true, force: true });
  };
  child.on('error', fail);
  child.on('exit', (code) => fail(new Error(`spawn helper exited (${code}): ${stderr.trim()}`)));
  child.stdin.on('error', () => {});
  idle(h);
  return h;
}

/** The helper keeps this process alive only while one of its children runs. */
function idle(h: Helper): void {
  const busy = h.waiting.size + h.exits.size > 0;
  for (const s of [h.child, h.child.stdin, h.child.stdout, h.child.stderr] as Array<{ ref(): void; unref(): void }>) {
    if (busy) s.ref();
    else s.unref();
  }
}

function request(h: Helper, op: string, body: Record<string, unknown>, id = nextId++): Promise<unknown> {
  return new Promise((resolve, reject) => {
    h.waiting.set(id, (r) => {
      idle(h);
      if (r.error === undefined) resolve(r.ok);
      else reject(Object.assign(new Error(r.error), r.errno ? { code: errnoName(r.errno), errno: -r.errno } : {}));
    });
    idle(h);
    h.child.stdin.write(JSON.stringify({ op, id, ...body }) + '\n');
  });
}

function fifoSocket(path: string, write: boolean): Socket {
  const fd = openSync(path, (write ? constants.O_WRONLY : constants.O_RDONLY) | constants.O_NONBLOCK);
  return new Socket({ fd, readable: !write, writable: write });
}

/** Start the helper now if it is not running: its start (~40 ms) then overlaps what comes before a spawn. */
export function warmSpawnHelper(): void {
  helper ??= start();
}

/**
 * Start `argv` (an absolute path first: the helper does not search PATH) from the helper. Rejects
 * with the spawn's own error (`code` ENOENT for a missing binary) as `child_process.spawn` would
 * emit it.
 */
export async function spawnViaHelper(argv: string[], opts: HelperSpawnOptions = {}): Promise<HelperChild> {
  const h = (helper ??= start());
  const id = nextId++;
  const names = (['stdin', 'stdout', 'stderr'] as const).filter((n) => opts[n]);
  const fifos = Object.fromEntries(names.map((n) => [n, join(h.dir, `${id}.${n}`)]));
  await request(h, 'prepare', { argv, cwd: opts.cwd ?? null, env: opts.env ?? process.env, fifos }, id);
  const ends: Partial<Record<'stdin' | 'stdout' | 'stderr', Socket>> = {};
  const exit = new Promise<Reply>((resolve) => h.exits.set(id, resolve));
  let pid: number;
  try {
    for (const n of names) ends[n] = fifoSocket(fifos[n]!, n === 'stdin');
    pid = (await request(h, 'start', {}, id)) as number;
  } catch (err) {
    h.exits.delete(id);
    idle(h);
    for (const s of Object.values(ends)) s.destroy();
    await request(h, 'cancel', {}, id).catch(() => {});
    throw err;
  }
  const exited = exit.then((r) => {
    idle(h);
    if (r.exit === undefined) throw new TbuildError('TB_INTERNAL', `spawn helper: ${r.error ?? 'lost'}`);
    return r.exit >= 0 ? { code: r.exit, signal: null } : { code: null, signal: signalName(-r.exit) };
  });
  exited.catch(() => {});
  return {
    pid,
    ...ends,
    exited,
    kill: (signal = 'SIGTERM') => void request(h, 'signal', { target: id, signal: osConstants.signals[signal] }).catch(() => {}),
  };
}

/** `2` → `ENOENT`, as Node names a spawn's errors. */
function errnoName(n: number): string {
  return Object.entries(osConstants.errno).find(([, v]) => v === n)?.[0] ?? `E${n}`;
}

function signalName(n: number): NodeJS.Signals | null {
  for (const [k, v] of Object.entries(osConstants.signals)) if (v === n) return k as NodeJS.Signals;
  return null;
}

import { randomBytes } from 'node:crypto';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import type { ContainerManager, ExecOptions, ExecProcess } from '../containers/types.js';
import { TbuildError } from '../errors.js';
import type { EventBus } from './events.js';

/** One attached client: where its output goes, and what to call when the container is done. */
interface Attachment {
  stdout?: Writable;
  stderr?: Writable;
  stdin?: Readable;
  done: () => void;
}

export interface ExecRecord {
  id: string;
  containerId: string;
  opts: ExecOptions & { attachStdout: boolean; attachStderr: boolean; detachKeys?: string };
  running: boolean;
  exitCode: number | null;
  pid: number;
  /** The running process (set once it started). */
  process?: ExecProcess;
  /** A terminal size asked for before the process was running. */
  pendingSize?: { height: number; width: number };
}

/**
 * Attach sessions and exec instances. The Docker CLI attaches to a container *before* starting it
 * (`docker run`), so attachments to a created container are parked here and handed to `start`,
 * which wires them from the first byte; attachments to a running container go to `attach`.
 */
export class ContainerSessions {
  #containers: ContainerManager;
  #parked = new Map<string, Attachment[]>();
  #execs = new Map<string, ExecRecord>();

  constructor(containers: ContainerManager, events: EventBus) {
    this.#containers = containers;
    // a long-lived process: every `run` may skip the container monitor's boot
    containers.keepWarm?.();
    containers.on('event', (e) => {
      events.publish('container', e.action, e.id, e.attributes);
      if (e.action === 'destroy') {
        for (const [id, ex] of this.#execs) if (ex.containerId === e.id) this.#execs.delete(id);
      }
    });
  }

  /**
   * Attach a client. Resolves when the container has exited (or, for a running container, when
   * the manager's attach ends), after which the caller closes the connection.
   */
  async attach(id: string, io: Omit<Attachment, 'done'>): Promise<void> {
    const c = await this.#containers.inspect(id);
    if (c.state.status === 'created' || c.state.status === 'exited') {
      // Parked until start; the exit of that run ends the attachment.
      await new Promise<void>((resolve) => {
        const list = this.#parked.get(c.id) ?? [];
        list.push({ ...io, done: resolve });
        this.#parked.set(c.id, list);
      });
      return;
    }
    // The manager's attach ends once the container's exit and all output before it are delivered,
    // or when this client detached (the container runs on).
    const exited = this.#containers.wait(c.id, 'not-running').catch(() => undefined);
    let detached = false;
    await this.#containers.attach(c.id, { ...io, detached: () => (detached = true) }).catch(() => undefined);
    if (!detached) await exited;
  }

  /** Start a container, wiring any parked attachments to its stdio. */
  async start(id: string): Promise<void> {
    const c = await this.#containers.inspect(id);
    const parked = this.#parked.get(c.id) ?? [];
    this.#parked.delete(c.id);
    if (!parked.length) {
      await this.#containers.start(c.id);
      return;
    }
    const stdout = fanOut(parked.map((a) => a.stdout));
    const stderr = fanOut(parked.map((a) => a.stderr));
    const stdin = parked.find((a) => a.stdin)?.stdin;
    const exited = this.#containers.wait(c.id, 'next-exit').catch(() => undefined);
    let outputEnded = 0;
    const bothEnded = new Promise<void>((resolve) => {
      const one = () => {
        if (++outputEnded === 2) resolve();
      };
      stdout.once('end', one);
      stderr.once('end', one);
    });
    // a tty client that detaches ends its attachment; the container runs on
    const detached = () => {
      for (const a of parked) a.done();
    };
    try {
      await this.#containers.start(c.id, { stdout, stderr, ...(stdin ? { stdin } : {}), detached });
    } catch (err) {
      for (const a of parked) a.done();
      throw err;
    }
    void (async () => {
      // The manager's wait reports an exit only after the output of a start it attached was delivered.
      await exited;
      await Promise.race([bothEnded, new Promise((r) => setImmediate(r))]);
      for (const a of parked) a.done();
    })();
  }

  createExec(containerId: string, opts: ExecRecord['opts']): ExecRecord {
    const rec: ExecRecord = { id: randomBytes(32).toString('hex'), containerId, opts, running: false, exitCode: null, pid: 0 };
    this.#execs.set(rec.id, rec);
    return rec;
  }

  getExec(id: string): ExecRecord {
    const rec = this.#execs.get(id) ?? [...this.#execs.values()].find((e) => id.length >= 12 && e.id.startsWith(id));
    if (!rec) throw new TbuildError('TB_API_NOT_FOUND', `No such exec instance: ${id}`);
    return rec;
  }

  execIdsOf(containerId: string): string[] {
    return [...this.#execs.values()].filter((e) => e.containerId === containerId).map((e) => e.id);
  }

  close(): void {
    for (const list of this.#parked.values()) for (const a of list) a.done();
    this.#parked.clear();
  }
}

/** One writable that copies to several (each may be absent); ends them all when it ends. */
function fanOut(targets: Array<Writable | undefined>): PassThrough {
  const pt = new PassThrough();
  const live = targets.filter((t): t is Writable => !!t);
  pt.on('data', (chunk: Buffer) => {
    for (const t of live) if (!t.destroyed && !t.writableEnded) t.write(chunk);
  });
  return pt;
}

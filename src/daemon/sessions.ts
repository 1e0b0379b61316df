import { randomBytes } from 'node:crypto';
import { PassThrough, Readable, type Writable } from 'node:stream';
import type { ContainerManager, ExecOptions } from '../containers/types.js';
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
  opts: ExecOptions & { attachStdout: boolean; attachStderr: boolean };
  running: boolean;
  exitCode: number | null;
  pid: number;
}

/** How long output may still trickle in after the container's exit is reported. */
const EXIT_GRACE_MS = 20;

/**
 * Attach sessions and exec instances. The Docker CLI attaches to a container *before* starting it
 * (`docker run`), so attachments to a created container are parked here and handed to `start`,
 * which wires them from the first byte; attachments to a running container go to `attach`.
 */
export class ContainerSessions {
  #containers: ContainerManager;
  #parked = new Map<string, Attachment[]>();
  #execs = new Map<string, ExecRecord>();
  /** Exit code of each container's last `die`, kept past its removal (for `wait?condition=removed`). */
  #lastExit = new Map<string, number>();

  constructor(containers: ContainerManager, events: EventBus) {
    this.#containers = containers;
    containers.on('event', (e) => {
      events.publish('container', e.action, e.id, e.attributes);
      if (e.action === 'die' && e.attributes.exitCode !== undefined) {
        this.#lastExit.set(e.id, Number(e.attributes.exitCode));
        if (this.#lastExit.size > 1000) this.#lastExit.delete(this.#lastExit.keys().next().value!);
      }
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
    const exited = this.#containers.wait(c.id, 'not-running').catch(() => undefined);
    await Promise.race([this.#containers.attach(c.id, { ...io, stdin: io.stdin ?? noInput() }), exited]);
    await exited;
    await delay(EXIT_GRACE_MS);
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
    const stdin = parked.find((a) => a.stdin)?.stdin ?? noInput();
    const exited = this.#containers.wait(c.id, 'next-exit').catch(() => undefined);
    let outputEnded = 0;
    const bothEnded = new Promise<void>((resolve) => {
      const one = () => {
        if (++outputEnded === 2) resolve();
      };
      stdout.once('end', one);
      stderr.once('end', one);
    });
    try {
      await this.#containers.start(c.id, { stdout, stderr, stdin });
    } catch (err) {
      for (const a of parked) a.done();
      throw err;
    }
    void (async () => {
      await exited;
      // The manager may end our streams itself; otherwise give late output a moment.
      await Promise.race([bothEnded, delay(EXIT_GRACE_MS)]);
      for (const a of parked) a.done();
    })();
  }

  /** The exit code reported by the container's last `die` event, if this daemon saw one. */
  lastExit(id: string): number | undefined {
    return this.#lastExit.get(id);
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

/**
 * An already-ended stdin for attachments that send none: the manager's attach client only lets its
 * connection close after its input ends, so "no stdin" is given as "stdin that is at EOF".
 */
function noInput(): Readable {
  return Readable.from([]);
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

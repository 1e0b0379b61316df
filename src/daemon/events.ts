import { parseDockerTime } from '../util/filters.js';
import { EventEmitter } from 'node:events';

/** One Docker event, in the shape `GET /events` streams. */
export interface DockerEvent {
  Type: 'container' | 'image' | 'volume' | 'network' | 'daemon' | 'builder';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
  /** Legacy fields, still read by old clients. */
  status?: string;
  id?: string;
  from?: string;
}

/** In-memory event log (bounded) plus live subscribers, for `GET /events` with since/until. */
export class EventBus {
  #emitter = new EventEmitter();
  #recent: DockerEvent[] = [];
  #limit: number;

  constructor(limit = 1000) {
    this.#limit = limit;
    this.#emitter.setMaxListeners(0);
  }

  publish(type: DockerEvent['Type'], action: string, id: string, attributes: Record<string, string> = {}): DockerEvent {
    const nowNs = BigInt(Date.now()) * 1_000_000n + process.hrtime.bigint() % 1_000_000n;
    const ev: DockerEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Number(nowNs / 1_000_000_000n),
      timeNano: Number(nowNs),
    };
    if (type === 'container' || type === 'image') {
      ev.status = action;
      ev.id = id;
      if (attributes.image) ev.from = attributes.image;
    }
    this.#recent.push(ev);
    if (this.#recent.length > this.#limit) this.#recent.splice(0, this.#recent.length - this.#limit);
    this.#emitter.emit('event', ev);
    return ev;
  }

  /** Past events at or after `sinceNs` (nanoseconds). */
  since(sinceNs: number): DockerEvent[] {
    return this.#recent.filter((e) => e.timeNano >= sinceNs);
  }

  subscribe(fn: (e: DockerEvent) => void): () => void {
    this.#emitter.on('event', fn);
    return () => this.#emitter.off('event', fn);
  }
}

/** Docker's time arguments in nanoseconds since the epoch (see `parseDockerTime`). */
export function parseEventTime(v: string, now = Date.now()): number {
  return parseDockerTime(v, now);
}

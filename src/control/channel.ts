import { Duplex } from 'node:stream';

/**
 * An unbounded async-iterable queue: the request side of a client- or bidi-streaming call, which
 * connect reads as an `AsyncIterable` while tbuild pushes messages as the other side asks for them.
 */
export class Channel<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #waiting: ((r: IteratorResult<T>) => void) | undefined;
  #closed = false;
  #error: unknown;

  push(item: T): void {
    if (this.#closed) return;
    const w = this.#waiting;
    if (w) {
      this.#waiting = undefined;
      w({ value: item, done: false });
    } else this.#items.push(item);
  }

  /** No more items; an error makes the reader's next `next()` throw it. */
  close(error?: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#error = error;
    const w = this.#waiting;
    this.#waiting = undefined;
    // A reader already waiting sees the end; an error reaches readers that come after.
    if (w) w({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.#items.length) return Promise.resolve({ value: this.#items.shift() as T, done: false });
        if (this.#closed) {
          if (this.#error !== undefined) return Promise.reject(this.#error);
          return Promise.resolve({ value: undefined, done: true });
        }
        return new Promise((resolve) => (this.#waiting = resolve));
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
      // The consumer failed (connect calls this when the request stream cannot be sent): stop.
      throw: (err?: unknown) => {
        this.close();
        return Promise.reject(err);
      },
    };
  }
}

/**
 * A byte connection carried by a bidi stream of byte messages (a session over `Control.Session`,
 * an ssh-agent connection over `SSH.ForwardAgent`): writes become messages on `out`, messages from
 * `incoming` become reads.
 */
export function byteStreamDuplex<T>(out: Channel<T>, wrap: (data: Uint8Array) => T, incoming: AsyncIterable<{ data: Uint8Array }>): Duplex {
  const conn = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      out.push(wrap(chunk));
      cb();
    },
    final(cb) {
      out.close();
      cb();
    },
    destroy(err, cb) {
      out.close();
      cb(err);
    },
  });
  void (async () => {
    try {
      for await (const m of incoming) conn.push(m.data);
      conn.push(null);
    } catch (err) {
      conn.destroy(err as Error);
    }
  })();
  return conn;
}

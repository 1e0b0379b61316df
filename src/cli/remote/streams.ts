import type { Readable } from 'node:stream';
import type { AttachStreams } from '../../containers/types.js';
import { Demultiplexer, STDERR } from '../../api/wire/multiplex.js';
import type { HijackedConnection } from './client.js';

/**
 * Wire a hijacked attach/exec connection to the caller's streams: output demultiplexed (or raw
 * for a TTY) into stdout/stderr, stdin copied in and half-closed at its end, as the Docker CLI
 * does. Resolves when the daemon closes its side.
 */
export function pumpHijacked(conn: HijackedConnection, io: AttachStreams): Promise<void> {
  const { socket } = conn;
  return new Promise<void>((resolve) => {
    let finished = false;
    const done = (): void => {
      if (finished) return;
      finished = true;
      if (io.stdin) io.stdin.unpipe(socket);
      resolve();
    };
    if (conn.multiplexed) {
      const demux = new Demultiplexer();
      demux.on('data', (f: { stream: number; data: Buffer }) => {
        const target = f.stream === STDERR ? io.stderr : io.stdout;
        target?.write(f.data);
      });
      demux.on('end', done);
      demux.on('error', done);
      socket.pipe(demux);
    } else {
      socket.on('data', (d: Buffer) => io.stdout?.write(d));
      socket.on('end', done);
    }
    // A close without an end (reset) still finishes; let queued data events run first.
    socket.on('close', () => setImmediate(done));
    socket.on('error', () => setImmediate(done));
    if (io.stdin) io.stdin.pipe(socket);
    else socket.resume();
  });
}

/** Output of a logs response as `{ stream, text }` pieces: one per frame, or one per line when raw. */
export async function* demuxStream(res: Readable, multiplexed: boolean): AsyncGenerator<{ stream: 'stdout' | 'stderr'; text: string }> {
  if (multiplexed) {
    const demux = new Demultiplexer();
    res.pipe(demux);
    for await (const f of demux as AsyncIterable<{ stream: number; data: Buffer }>) {
      yield { stream: f.stream === STDERR ? 'stderr' : 'stdout', text: f.data.toString('utf8') };
    }
    return;
  }
  let buf = '';
  for await (const chunk of res as AsyncIterable<Buffer>) {
    buf += chunk.toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      yield { stream: 'stdout', text: buf.slice(0, nl + 1) };
      buf = buf.slice(nl + 1);
    }
  }
  if (buf) yield { stream: 'stdout', text: buf };
}

import { createGunzip, constants as Z, type Gunzip } from 'node:zlib';
import { TbuildError } from '../../errors.js';

/** The part of Node's zlib binding a synchronous inflate needs (what `zlib.gunzipSync` drives). */
interface ZlibBinding {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
}

const EMPTY = Buffer.alloc(0);
const BREATHER_BYTES = 16 << 20;

type Inner = { _handle?: ZlibBinding; _writeState?: Uint32Array };

/** The binding behind a gunzip stream and the state it reports into, if this Node has them. */
function bindingOf(z: Gunzip): { binding: ZlibBinding; state: Uint32Array } | undefined {
  const { _handle: binding, _writeState: state } = z as unknown as Inner;
  return typeof binding?.writeSync === 'function' && state instanceof Uint32Array ? { binding, state } : undefined;
}

let usable: boolean | undefined;
/**
 * Whether this Node.js has the binding (every release since 10 has; a later one might not, and
 * then `decompressChunks` decodes through the zlib stream instead).
 */
export function canGunzipReusing(): boolean {
  if (usable === undefined) {
    const z = createGunzip();
    usable = bindingOf(z) !== undefined;
    z.destroy();
  }
  return usable;
}

/**
 * gunzip of `source`, each chunk of output a view of ONE buffer that is filled again once the
 * consumer asks for the next: valid only until then. Node's zlib streams give every 256 KB of
 * output a fresh buffer; a layer's hundreds of megabytes then pass through memory the allocator
 * hands back to the kernel between collections and takes again, a page fault per 4 KB (on a
 * virtual machine, dearer than the inflate). dockerd's Go buffers are reused; so is this one.
 *
 * The inflate is Node's own (its zlib binding, driven synchronously as `gunzipSync` drives it:
 * concatenated members, the trailer's CRC and length checked, a truncated stream an error).
 * `observe(out, in)` sees the running totals of output and input bytes after each chunk, and may
 * throw to stop.
 */
export async function* gunzipReusing(source: AsyncIterable<Buffer>, observe: (outBytes: number, inBytes: number) => void, outSize = 256 << 10): AsyncGenerator<Buffer> {
  const z = createGunzip();
  z.on('error', () => {}); // read synchronously from `errored` below
  const inner = bindingOf(z);
  if (!inner) {
    z.destroy();
    throw new TbuildError('TB_INTERNAL', `this Node.js (${process.version}) has no synchronous zlib binding (see canGunzipReusing)`);
  }
  const { binding, state } = inner;
  const out = Buffer.allocUnsafe(outSize);
  let outBytes = 0;
  let inBytes = 0;
  // One call of the binding; how much it wrote, and how much input it left.
  const step = (flush: number, input: Uint8Array, inOff: number, inLen: number): { wrote: number; inLeft: number; full: boolean } => {
    binding.writeSync(flush, input, inOff, inLen, out, 0, out.length);
    const err = z.errored;
    if (err) throw new TbuildError('TB_TAR_FORMAT', `gzip stream is corrupt: ${err.message}`, { cause: err });
    return { wrote: out.length - state[0]!, inLeft: state[1]!, full: state[0] === 0 };
  };
  // Set once zlib leaves input behind with room to spare: the stream has ended (a member was
  // followed by NUL padding, which ends it as it ends `gunzipSync`). What follows is read and
  // ignored, wherever the chunks happen to be cut.
  let ended = false;
  let breather = 0;
  try {
    for await (const chunk of source) {
      inBytes += chunk.length;
      if (ended) continue;
      let inOff = 0;
      let inLen = chunk.length;
      for (;;) {
        const { wrote, inLeft, full } = step(Z.Z_NO_FLUSH, chunk, inOff, inLen);
        inOff += inLen - inLeft;
        inLen = inLeft;
        if (wrote > 0) {
          outBytes += wrote;
          observe(outBytes, inBytes);
          yield out.subarray(0, wrote);
        }
        if (full) {
          // One input chunk can inflate to a great deal (zeros, 1000:1), all of it in microtasks:
          // let the event loop run now and then (a daemon's other requests, timers).
          if (outBytes - breather >= BREATHER_BYTES) {
            breather = outBytes;
            await new Promise<void>((resolve) => setImmediate(resolve));
          }
          continue;
        }
        // Room left over: zlib stopped for want of input, or at the end of the stream.
        ended = inLen > 0;
        break;
      }
    }
    while (!ended) {
      const { wrote, full } = step(Z.Z_FINISH, EMPTY, 0, 0);
      if (wrote > 0) {
        outBytes += wrote;
        observe(outBytes, inBytes);
        yield out.subarray(0, wrote);
      }
      if (!full) break;
    }
  } finally {
    z.destroy();
  }
}

import { Readable } from 'node:stream';
import { TbuildError, isTbuildError } from '../errors.js';
import { decompress as decompressStream, detectCompression, type Compression } from '../cache/layer/decompress.js';

export { detectCompression, type Compression };

/**
 * The uncompressed bytes of `input` (plain, gzip, bzip2, xz or zstd, detected by magic bytes), by
 * the cache's decompressor. An image archive that does not decode is the caller's bad input, so a
 * decoding failure becomes TB_ARCHIVE_INVALID naming `what`; an error of `input` itself (a digest
 * mismatch from the content store, say) passes through as it is.
 */
export async function decompress(input: Readable, what = 'layer'): Promise<{ stream: Readable; compression: Compression }> {
  const { stream, compression } = await decompressStream(input, what);
  if (compression === 'none') return { stream, compression };
  const out = Readable.from(asArchiveErrors(stream, what), { objectMode: false });
  // The decoder runs from now on, but the generator only once `out` is read: a consumer that gives
  // up before reading must still stop the decoder, and its late failure must not go unheard.
  stream.on('error', () => {});
  out.on('close', () => stream.destroy());
  return { stream: out, compression };
}

async function* asArchiveErrors(stream: Readable, what: string): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } catch (err) {
    throw archiveError(err, what);
  } finally {
    stream.destroy();
  }
}

function archiveError(err: unknown, what: string): unknown {
  // TB_INTERNAL "cannot run <tool>": the decoder is missing, which for the user reads as an unreadable archive.
  const decoding = isTbuildError(err, 'TB_TAR_FORMAT') || (isTbuildError(err, 'TB_INTERNAL') && err.message.startsWith('cannot run '));
  if (!decoding) return err;
  const cause = (err as TbuildError).cause;
  if (cause instanceof TbuildError) return cause;
  return new TbuildError('TB_ARCHIVE_INVALID', `${what}: ${(err as Error).message}`, { cause: err });
}

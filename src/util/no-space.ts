import { TbuildError } from '../errors.js';

/**
 * A full disk (or quota) is the machine's state, not a bug in the input: say what was being
 * written, so the user knows which filesystem to free. Callers still remove what they half wrote.
 */
export function isNoSpace(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

export function noSpaceError(what: string, err: unknown): TbuildError {
  const why = (err as NodeJS.ErrnoException).code === 'EDQUOT' ? 'disk quota exceeded' : 'no space left on device';
  return new TbuildError('TB_NO_SPACE', `${why} while writing ${what}`, { cause: err });
}

/** Run `fn`; a full disk becomes TB_NO_SPACE naming `what`, other errors pass unchanged. */
export async function writing<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw isNoSpace(err) ? noSpaceError(what, err) : err;
  }
}

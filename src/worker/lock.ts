import { lockFile } from '../util/file-lock.js';

/** In-process exclusive locks by name; each holder also holds `<name>.lock` for other processes. */
const tails = new Map<string, Promise<void>>();

/**
 * Resolves once the lock is held (cache mounts with `sharing=locked`): first against this
 * process's other steps, then, through flock on `<path>.lock`, against every other tbuild process
 * using the root. Call the returned function to let the next waiter in.
 */
export async function lockFor(path: string): Promise<() => Promise<void>> {
  const prev = tails.get(path) ?? Promise.resolve();
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const tail = prev.then(() => held);
  tails.set(path, tail);
  await prev;
  const unlock = () => {
    release();
    if (tails.get(path) === tail) tails.delete(path);
  };
  const fileLock = await lockFile(`${path}.lock`).catch((err: unknown) => {
    unlock();
    throw err;
  });
  return async () => {
    fileLock.release();
    unlock();
  };
}

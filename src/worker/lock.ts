/** In-process exclusive locks by name (cache mounts with `sharing=locked`). */
const tails = new Map<string, Promise<void>>();

/** Resolves once the lock is held; call the returned function to let the next waiter in. */
export async function lockFor(name: string): Promise<() => Promise<void>> {
  const prev = tails.get(name) ?? Promise.resolve();
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const tail = prev.then(() => held);
  tails.set(name, tail);
  await prev;
  return async () => {
    release();
    if (tails.get(name) === tail) tails.delete(name);
  };
}

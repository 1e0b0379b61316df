/**
 * Whether process `pid` exists (EPERM: it does, owned by someone else). Leftovers on disk are
 * tagged with the pid that made them, so a sweep can tell a crashed writer's from a live one's.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

import { PythonHelper } from './python-helper.js';

/**
 * Uncontended flocks taken for this process by a python3 helper instead of a fork of ours per
 * lock: spawning util-linux's `flock` forks the whole Node process, which costs tens of
 * milliseconds once its heap is large and makes every page it writes next copy-on-write; an image
 * pull took two such forks. The helper opens each lock file itself and only tries the lock; one it
 * cannot take at once is the caller's to wait for (the fork path), so the helper never blocks and
 * a release queued behind a wait cannot deadlock.
 *
 * It is kept for the life of this process and reads its requests from a pipe we hold: when this
 * process dies, even by SIGKILL, it reads the end of its input and exits, and the locks it held
 * for us go with it.
 */
const SCRIPT = String.raw`
import os, sys, json, fcntl, errno, signal
# a Ctrl-C or a stop signal to our process group is ours to handle: the helper goes only when its
# input ends (we exited or died), or its locks would go while we still count on them
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
held = {}
def handle(req):
    if req['op'] == 'unlock':
        fd = held.pop(req['id'], None)
        if fd is not None:
            os.close(fd)
        return True
    try:
        fd = os.open(req['path'], os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return 'failed'
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if req['shared'] else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        return 'busy' if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN) else 'failed'
    held[req['id']] = fd
    return 'held'
`;

/** `held`: ours until released; `busy`: someone else holds it; `unavailable`: use the fork path. */
export type HelperAnswer = { kind: 'held'; release: () => void } | { kind: 'busy' } | { kind: 'unavailable' };

const helper = new PythonHelper('lock helper', SCRIPT, undefined);
let nextId = 1;
/** Set when the helper could not run or died: this process takes every lock the fork way from then on. */
let broken = false;

export async function tryLockViaHelper(path: string, shared: boolean): Promise<HelperAnswer> {
  if (broken) return { kind: 'unavailable' };
  const id = nextId++;
  let answer: unknown;
  try {
    answer = await helper.request({ op: 'lock', id, path, shared });
  } catch {
    broken = true;
    return { kind: 'unavailable' };
  }
  if (answer === 'busy') return { kind: 'busy' };
  // the fork path takes it again and reports the error in full
  if (answer !== 'held') return { kind: 'unavailable' };
  let released = false;
  return {
    kind: 'held',
    release: () => {
      if (released) return;
      released = true;
      // ordered before any later request of ours; a helper that died took the lock with it
      helper.request({ op: 'unlock', id }).catch(() => {});
    },
  };
}

import { constants as C } from 'node:fs';

/**
 * Go's `os.FileMode` bits, which fsutil's `Stat.mode` carries on the wire, to and from POSIX
 * `st_mode`. Go keeps the file type and the special bits above the permission bits.
 */
const GO_DIR = 2 ** 31;
const GO_SYMLINK = 2 ** 27;
const GO_DEVICE = 2 ** 26;
const GO_PIPE = 2 ** 25;
const GO_SOCKET = 2 ** 24;
const GO_SETUID = 2 ** 23;
const GO_SETGID = 2 ** 22;
const GO_CHARDEV = 2 ** 21;
const GO_STICKY = 2 ** 20;

export type EntryKind = 'dir' | 'symlink' | 'file' | 'pipe' | 'socket' | 'device';

export function kindOfGoMode(mode: number): EntryKind {
  if (mode & GO_DIR) return 'dir';
  if (mode & GO_SYMLINK) return 'symlink';
  if (mode & GO_DEVICE) return 'device';
  if (mode & GO_PIPE) return 'pipe';
  if (mode & GO_SOCKET) return 'socket';
  return 'file';
}

/** Permission and setuid/setgid/sticky bits as `chmod` takes them. */
export function permOfGoMode(mode: number): number {
  let p = mode & 0o777;
  if (mode & GO_SETUID) p |= 0o4000;
  if (mode & GO_SETGID) p |= 0o2000;
  if (mode & GO_STICKY) p |= 0o1000;
  return p;
}

export function goModeOf(stMode: number): number {
  let m = stMode & 0o777;
  if (stMode & 0o4000) m += GO_SETUID;
  if (stMode & 0o2000) m += GO_SETGID;
  if (stMode & 0o1000) m += GO_STICKY;
  switch (stMode & C.S_IFMT) {
    case C.S_IFDIR:
      return m + GO_DIR;
    case C.S_IFLNK:
      return m + GO_SYMLINK;
    case C.S_IFIFO:
      return m + GO_PIPE;
    case C.S_IFSOCK:
      return m + GO_SOCKET;
    case C.S_IFCHR:
      return m + GO_DEVICE + GO_CHARDEV;
    case C.S_IFBLK:
      return m + GO_DEVICE;
    default:
      return m;
  }
}

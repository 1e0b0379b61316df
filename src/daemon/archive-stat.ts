/** Go's os.FileMode type bits, which the Docker CLI reads from the path-stat header. */
const GO_MODE_DIR = 2 ** 31;
const GO_MODE_SYMLINK = 2 ** 27;
const GO_MODE_DEVICE = 2 ** 26;
const GO_MODE_NAMED_PIPE = 2 ** 25;
const GO_MODE_SOCKET = 2 ** 24;
const GO_MODE_SETUID = 2 ** 23;
const GO_MODE_SETGID = 2 ** 22;
const GO_MODE_CHAR_DEVICE = 2 ** 21;
const GO_MODE_STICKY = 2 ** 20;

/** A unix st_mode → Go's os.FileMode bits (values without a file type are passed through). */
export function goFileMode(mode: number): number {
  const type = mode & 0o170000;
  if (!type) return mode;
  let out = mode & 0o777;
  if (mode & 0o4000) out += GO_MODE_SETUID;
  if (mode & 0o2000) out += GO_MODE_SETGID;
  if (mode & 0o1000) out += GO_MODE_STICKY;
  switch (type) {
    case 0o040000:
      out += GO_MODE_DIR;
      break;
    case 0o120000:
      out += GO_MODE_SYMLINK;
      break;
    case 0o020000:
      out += GO_MODE_DEVICE + GO_MODE_CHAR_DEVICE;
      break;
    case 0o060000:
      out += GO_MODE_DEVICE;
      break;
    case 0o010000:
      out += GO_MODE_NAMED_PIPE;
      break;
    case 0o140000:
      out += GO_MODE_SOCKET;
      break;
  }
  return out;
}

/** The `X-Docker-Container-Path-Stat` header: base64 of `{name,size,mode,mtime,linkTarget}`. */
export function archiveStatHeader(stat: { name: string; size: number; mode: number; mtime: string; linkTarget: string }): string {
  return Buffer.from(JSON.stringify({ ...stat, mode: goFileMode(stat.mode) })).toString('base64');
}

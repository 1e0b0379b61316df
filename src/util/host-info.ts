import { readFileSync, existsSync } from 'node:fs';
import os from 'node:os';

/** Go's GOARCH name for this machine, as Docker reports it. */
export function goArch(): string {
  const a = os.arch();
  return a === 'x64' ? 'amd64' : a === 'ia32' ? '386' : a;
}

/** `uname -m` style name, as `docker info` shows Architecture. */
export function machineArch(): string {
  return typeof os.machine === 'function' ? os.machine() : os.arch();
}

export function operatingSystem(): string {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text);
    if (m) return m[1]!;
  } catch {
    /* fall through */
  }
  return os.type();
}

export function cgroupVersion(): '1' | '2' {
  return existsSync('/sys/fs/cgroup/cgroup.controllers') ? '2' : '1';
}

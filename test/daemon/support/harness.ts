import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Daemon } from '../../../src/daemon/server.js';
import type { DaemonServices } from '../../../src/daemon/types.js';
import { tempDir } from '../../support/tmp.js';
import { docker, type DockerResult } from './docker.js';

export interface Harness {
  dir: string;
  host: string;
  socket: string;
  daemon: Daemon;
  docker(args: string[], opts?: { input?: string | Buffer; cwd?: string; timeoutMs?: number }): Promise<DockerResult>;
  /** Write a build context directory from `{ path: content }`. */
  context(files: Record<string, string>): Promise<string>;
  close(): Promise<void>;
}

/** An in-process daemon on a temp unix socket, serving `services`. */
export async function startHarness(services: (root: string) => DaemonServices): Promise<Harness> {
  const tmp = await tempDir('tbd-');
  const root = join(tmp.path, 'root');
  const socket = join(tmp.path, 'd.sock');
  const configDir = join(tmp.path, 'docker-config');
  await mkdir(configDir, { recursive: true });
  const daemon = await Daemon.start({ hosts: [`unix://${socket}`], root, services: services(root), shutdownGraceMs: 2000 });
  const host = `unix://${socket}`;
  let n = 0;
  return {
    dir: tmp.path,
    host,
    socket,
    daemon,
    docker: (args, opts) => docker(host, configDir, args, opts),
    async context(files) {
      const dir = join(tmp.path, `ctx${n++}`);
      for (const [p, content] of Object.entries(files)) {
        await mkdir(join(dir, p, '..'), { recursive: true });
        await writeFile(join(dir, p), content);
      }
      return dir;
    },
    async close() {
      await daemon.stop();
      await tmp.cleanup();
    },
  };
}

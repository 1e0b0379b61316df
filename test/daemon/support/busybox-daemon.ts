import { afterAll, beforeAll, expect } from 'vitest';
import { mountsUnder, tempDir } from '../../support/tmp.js';
import { BUSYBOX_TAR } from '../../support/cli.js';
import { startChildDaemon, type ChildDaemon } from './child-daemon.js';

/**
 * A `tbuild daemon` child on a temp root with busybox:local loaded, for one describe block; at the
 * end every container goes, the daemon stops cleanly and nothing stays mounted. `extraArgs` are
 * daemon flags; `prepare` runs on the temp dir first (certificates, config files).
 */
export function busyboxDaemon(prefix: string, opts: { extraArgs?: (dir: string) => string[] | Promise<string[]> } = {}): ChildDaemon & { readonly dir: string } {
  let tmp: Awaited<ReturnType<typeof tempDir>> | undefined;
  let daemon: ChildDaemon | undefined;
  beforeAll(async () => {
    tmp = await tempDir(prefix);
    daemon = await startChildDaemon(tmp.path, opts.extraArgs ? await opts.extraArgs(tmp.path) : []);
    expect((await daemon.docker(['load', '-i', BUSYBOX_TAR])).code).toBe(0);
  }, 60_000);
  afterAll(async () => {
    if (daemon) {
      const ids = (await daemon.docker(['ps', '-aq'])).stdout.trim().split('\n').filter(Boolean);
      if (ids.length) await daemon.docker(['rm', '-f', '-v', ...ids]);
      expect(await daemon.stop()).toBe(0);
    }
    if (tmp) {
      expect(await mountsUnder(tmp.path)).toEqual([]);
      await tmp.cleanup();
    }
  }, 60_000);
  // the daemon exists only once beforeAll has run: everything is looked up on use
  return {
    get child() {
      return daemon!.child;
    },
    get host() {
      return daemon!.host;
    },
    get socket() {
      return daemon!.socket;
    },
    get root() {
      return daemon!.root;
    },
    get dir() {
      return tmp!.path;
    },
    log: () => daemon!.log(),
    docker: (args, o) => daemon!.docker(args, o),
    stop: () => daemon!.stop(),
  };
}

import { join } from 'node:path';
import { TbuildError } from '../errors.js';
import { parsePs } from '../exec/ps.js';
import type { ContainerRuntime } from '../exec/types.js';
import type { ExitStatus } from '../exec/types.js';
import type { ExecOptions, ExecStreams } from './types.js';
import { mergeEnv, withTerm } from './config.js';
import { containerDir, type StoredConfig, type StoredState } from './store.js';

/**
 * Processes inside a running container that are not its main process: `exec` and `top`. Both go
 * straight to the runtime (`runc exec` / `runc ps`); the container's shim is not involved.
 */

export async function execInContainer(
  control: ContainerRuntime,
  root: string,
  c: StoredConfig,
  s: StoredState,
  opts: ExecOptions,
  io: ExecStreams,
  /** Called once the checks pass, just before the process is started (the manager's event). */
  starting: () => void,
): Promise<ExitStatus> {
  if (s.status === 'paused') throw new TbuildError('TB_CONTAINER_STATE', `Container ${c.id} is paused, unpause the container before exec`);
  if (s.status !== 'running') throw new TbuildError('TB_CONTAINER_STATE', `Container ${c.id} is not running`);
  starting();
  return control.execProcess(
    c.id,
    join(containerDir(root, c.id), 'rootfs'),
    {
      args: opts.cmd,
      env: withTerm(mergeEnv([`HOSTNAME=${c.runtime.hostname}`, ...c.env], opts.env ?? []), Boolean(opts.tty)),
      cwd: opts.workingDir || c.workingDir || '/',
      user: opts.user ?? c.user,
      tty: Boolean(opts.tty),
      ...(opts.tty && opts.consoleSize ? { consoleSize: opts.consoleSize } : {}),
    },
    {
      ...(io.started ? { started: (pid: number) => io.started!({ pid, resize: (size) => control.resizeTty(pid, size) }) } : {}),
      ...(opts.attachStdin ? { stdin: io.stdin ?? io.stdio } : {}),
      ...(io.stdout ?? io.stdio ? { stdout: io.stdout ?? io.stdio } : {}),
      ...(io.stderr ?? io.stdio ? { stderr: io.stderr ?? io.stdio } : {}),
    },
  );
}

export async function topOfContainer(
  control: ContainerRuntime,
  c: StoredConfig,
  s: StoredState,
  psArgs: string,
): Promise<{ titles: string[]; processes: string[][] }> {
  if (s.status !== 'running' && s.status !== 'paused') throw new TbuildError('TB_CONTAINER_STATE', `Container ${c.id} is not running`);
  return parsePs(await control.runtimeCommand(['ps', c.id, ...psArgs.split(/\s+/).filter(Boolean)]));
}

import { statSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeJsonAtomic, writeJsonReplace } from '../util/atomic.js';

export { writeJsonReplace };
import type { Mount } from '../cache/types.js';
import type { ContainerMount, NetworkMode, Resources } from '../exec/types.js';
import type { SecurityHostPaths, SecurityOptions } from '../exec/security/types.js';
import type { ContainerRecord, ContainerState, HealthConfig } from './types.js';
import type { EndpointRequest, PortMapping } from '../network/types.js';

/** What the shim needs beyond the record to run the container (resolved at create/start). */
export interface RuntimeConfig {
  /** `none` while `attach` is set: the shim replaces it with the namespace it attaches. */
  network: NetworkMode;
  /** Networks the shim attaches the container to at each start (released at its exit). */
  attach?: { networks: EndpointRequest[]; ports: PortMapping[] };
  /**
   * `--network container:CTR`: the id of the container whose network namespace, /etc/hosts,
   * resolv.conf and hostname this one shares (joined at each start; it must be running then).
   */
  netContainer?: string;
  dns?: { servers?: string[]; search?: string[]; options?: string[] };
  extraHosts?: string[];
  hostname: string;
  mounts: ContainerMount[];
  resources?: Resources;
  tty: boolean;
  openStdin: boolean;
  stdinOnce: boolean;
  /** Names of volumes this container mounts (for `volume rm` in-use checks and `rm -v`). */
  volumes: string[];
  anonymousVolumes: string[];
  /** The effective healthcheck (the container's over the image's). */
  healthcheck?: HealthConfig;
  /** Destinations of volumes mounted with `nocopy`: not filled from the image. */
  noCopy?: string[];
  stopSignal?: string;
  readonlyRootfs?: boolean;
  security?: SecurityOptions;
}

/** config.json: everything static about a container. */
export type StoredConfig = Omit<ContainerRecord, 'state'> & { runtime: RuntimeConfig };

/** state.json: the live facts, written by the manager (created) and the shim (running, exited). */
export interface StoredState extends ContainerState {
  shimPid?: number;
  /** The shim's start time (/proc stat field 22), so a reused pid does not pass for it. */
  shimStart?: string;
  /** Code of the TbuildError that failed a start, so the starter can rethrow it. */
  errorCode?: string;
}

/** start.json: handed from the manager to the shim for one run. */
export interface StartRequest {
  runtime: string;
  rootfsMounts: Mount[];
  waitAttach: boolean;
  security?: SecurityHostPaths;
}

/** argv[3] of a shim started ahead of need (a standby): it waits for its container id on stdin. */
export const STANDBY_ARG = '--standby';

/** Written by the manager when a user stops, kills or removes the container: no more policy restarts. */
export const STOP_MARKER = 'stop-requested';

export function containerDir(root: string, id: string): string {
  return join(root, 'containers', id);
}

export function emptyState(): StoredState {
  return {
    status: 'created',
    pid: 0,
    exitCode: 0,
    oomKilled: false,
    error: '',
    startedAt: '0001-01-01T00:00:00Z',
    finishedAt: '0001-01-01T00:00:00Z',
    restartCount: 0,
  };
}

/**
 * Config texts by path, with the stat they were read at: a lookup by name reads every config, and
 * the Docker CLI looks a container up several times per command. A config is only ever replaced
 * by rename (writeJsonAtomic), so a new inode or ctime means a new text. Each call parses afresh:
 * callers may change what they get.
 */
const configTexts = new Map<string, { stamp: string; text: string }>();
const CONFIG_TEXTS_MAX = 4096;

export async function readConfig(root: string, id: string): Promise<StoredConfig | undefined> {
  const file = join(containerDir(root, id), 'config.json');
  try {
    const st = statSync(file, { bigint: true });
    const stamp = `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    let known = configTexts.get(file);
    if (known?.stamp !== stamp) {
      known = { stamp, text: await readFile(file, 'utf8') };
      if (configTexts.size >= CONFIG_TEXTS_MAX) configTexts.clear();
      configTexts.set(file, known);
    }
    return JSON.parse(known.text) as StoredConfig;
  } catch {
    configTexts.delete(file);
    return undefined;
  }
}

export async function readState(root: string, id: string): Promise<StoredState> {
  try {
    return { ...emptyState(), ...(JSON.parse(await readFile(join(containerDir(root, id), 'state.json'), 'utf8')) as StoredState) };
  } catch {
    return emptyState();
  }
}

export async function writeConfig(root: string, c: StoredConfig): Promise<void> {
  await writeJsonAtomic(join(containerDir(root, c.id), 'config.json'), c);
}

export async function writeState(root: string, id: string, s: StoredState): Promise<void> {
  await writeJsonReplace(join(containerDir(root, id), 'state.json'), s);
}

/** Ids of all containers with a config (a dir without one is a create that never finished). */
export async function listIds(root: string): Promise<string[]> {
  const names = await readdir(join(root, 'containers')).catch(() => [] as string[]);
  return names.filter((n) => /^[a-f0-9]{64}$/.test(n));
}

export async function removeDir(root: string, id: string): Promise<void> {
  await rm(containerDir(root, id), { recursive: true, force: true });
}

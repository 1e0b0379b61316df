import type { Digest } from '../../util/digest.js';
import type { ContainerConfig, HistoryEntry } from '../../images/types.js';
import type { StageScope } from '../../parser/scope.js';
import type { Platform } from '../../util/platform.js';

/** A history entry as converted; `layer` marks steps whose vertex may add a layer. */
export interface HistoryDraft extends HistoryEntry {
  /** The step's vertex and its parent: the entry is non-empty when the vertex added a layer. */
  layer?: { vertex: Digest; parent: Digest };
}

/** Image config fields other than rootfs and history, as they evolve instruction by instruction. */
export interface ConfigDraft {
  architecture: string;
  os: string;
  variant?: string;
  author?: string;
  config: ContainerConfig;
}

/** One stage's state while its instructions are converted, and its result afterwards. */
export interface StageState {
  index: number;
  /** `stage-0` or the alias as written; used in step names. */
  displayName: string;
  /** The current filesystem: the vertex of the last step. */
  vertex: Digest;
  image: ConfigDraft;
  /** What the stage is built for: FROM --platform, else the build's target platform. */
  platform: Platform;
  /** The platform was asked for, by FROM --platform or `--platform`. */
  platformExplicit: boolean;
  history: HistoryDraft[];
  scope: StageScope;
  /** True once CMD was set in this stage (ENTRYPOINT then keeps it). */
  cmdSet: boolean;
  /** Step counter for `[stage i/n]` names. */
  step: number;
  steps: number;
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const DEFAULT_SHELL = ['/bin/sh', '-c'];

export function shellOf(state: StageState): string[] {
  return state.image.config.Shell?.length ? state.image.config.Shell : DEFAULT_SHELL;
}

export function workdirOf(state: StageState): string {
  return state.image.config.WorkingDir || '/';
}

export function cloneConfig(c: ContainerConfig): ContainerConfig {
  return JSON.parse(JSON.stringify(c)) as ContainerConfig;
}

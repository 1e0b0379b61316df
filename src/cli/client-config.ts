/**
 * The parts of the Docker CLI's own `$DOCKER_CONFIG/config.json` (default `~/.docker`) that
 * shape the CLI: `psFormat`, `imagesFormat`, `statsFormat` and `detachKeys`. Credentials in
 * the same file belong to the registry module. A file that is not JSON is an error naming it, as Docker's.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { TbuildError } from '../errors.js';

export interface ClientConfig {
  psFormat?: string;
  imagesFormat?: string;
  statsFormat?: string;
  /** The default of `--detach-keys` (Docker's syntax, e.g. `ctrl-p,ctrl-q`). */
  detachKeys?: string;
  /** Where the settings above came from (`tbuild info` says so): the file read and the keys it set. */
  source?: { file: string; fromEnv: boolean; keys: string[] };
}

export function readClientConfig(env: NodeJS.ProcessEnv = process.env): ClientConfig {
  const file = join(env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new TbuildError('TB_INVALID_ARGUMENT', `${file} is not valid JSON`);
  }
  const o = (doc && typeof doc === 'object' ? doc : {}) as Record<string, unknown>;
  const pick = (k: string): string | undefined => (typeof o[k] === 'string' && o[k] ? (o[k] as string) : undefined);
  const cfg: ClientConfig = {};
  const ps = pick('psFormat');
  const images = pick('imagesFormat');
  if (ps) cfg.psFormat = ps;
  if (images) cfg.imagesFormat = images;
  const stats = pick('statsFormat');
  if (stats) cfg.statsFormat = stats;
  const keys = pick('detachKeys');
  if (keys) cfg.detachKeys = keys;
  cfg.source = { file, fromEnv: Boolean(env.DOCKER_CONFIG), keys: ['psFormat', 'imagesFormat', 'statsFormat', 'detachKeys'].filter((k) => pick(k)) };
  return cfg;
}

import { readFile, stat } from 'node:fs/promises';
import { checkDockerfileSize } from '../parser/parse.js';
import { join, resolve } from 'node:path';
import { TbuildError } from '../errors.js';
import type { Command } from 'commander';

/** Commander accumulator for repeatable options (`-t a -t b`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * `K=V` items into a record. With `fromEnv`, a bare `K` takes its value from the client's
 * environment and is left out when unset (Docker's `--build-arg K`); otherwise a bare `K` means ''.
 */
export function keyValues(list: readonly string[] | undefined, what: string, fromEnv: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const i = item.indexOf('=');
    if (i === 0) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid ${what} ${JSON.stringify(item)}: empty key`);
    if (i === -1) {
      const v = fromEnv ? process.env[item] : '';
      if (v !== undefined) out[item] = v;
      continue;
    }
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

/** `--format text|json`, as the inspection commands take it. */
export function textOrJson(format: string): 'text' | 'json' {
  if (format !== 'text' && format !== 'json') {
    throw new TbuildError('TB_INVALID_ARGUMENT', `unknown --format ${JSON.stringify(format)} (use text or json)`);
  }
  return format;
}

/** The Dockerfile a command names: `-f PATH`, else `<context>/Dockerfile`; its text and display name. */
export async function readDockerfileArg(context: string, file: string | undefined): Promise<{ contextDir: string; path: string; file: string; text: string }> {
  const contextDir = resolve(context);
  const path = file ? resolve(file) : join(contextDir, 'Dockerfile');
  try {
    checkDockerfileSize((await stat(path)).size, file ?? 'Dockerfile');
    return { contextDir, path, file: file ?? 'Dockerfile', text: await readFile(path, 'utf8') };
  } catch (err) {
    if (err instanceof TbuildError) throw err;
    throw new TbuildError('TB_INVALID_ARGUMENT', `cannot read Dockerfile ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
}

/** The options `check` and `outline` share: which Dockerfile, which target, which build args, which format. */
export interface DockerfileArgOptions {
  file?: string;
  target?: string;
  buildArg: string[];
  format: string;
}

export function dockerfileArgOptions(cmd: Command): Command {
  return cmd
    .argument('[context]', 'build context directory', '.')
    .option('-f, --file <path>', 'path of the Dockerfile (default: <context>/Dockerfile)')
    .option('--target <stage>', 'target stage')
    .option('--build-arg <key=value>', 'build-time variable (repeatable)', collect, [])
    .option('--format <format>', 'text or json', 'text');
}

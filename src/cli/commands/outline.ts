import { collect, keyValues } from '../options.js';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { RegisterCommand } from '../context.js';
import { TbuildError } from '../../errors.js';
import { parseDockerfile } from '../../parser/parse.js';
import { resolveDockerfile } from '../../parser/resolve.js';
import { formatOutline, outline } from '../../parser/outline.js';


/** `tbuild outline`: the stages, bases and ARGs of a Dockerfile, without building anything. */
export const registerOutline: RegisterCommand = (program, ctx) => {
  program
    .command('outline')
    .description('show the stages of a Dockerfile, their bases and ARGs (with defaults and where they are used)')
    .argument('[context]', 'build context directory', '.')
    .option('-f, --file <path>', 'Dockerfile path (default: <context>/Dockerfile)')
    .option('--target <stage>', 'target stage')
    .option('--build-arg <key=value>', 'build-time variable (repeatable)', collect, [])
    .option('--format <format>', 'text or json', 'text')
    .action(async (context: string, opts: { file?: string; target?: string; buildArg: string[]; format: string }) => {
      if (opts.format !== 'text' && opts.format !== 'json') {
        throw new TbuildError('TB_INVALID_ARGUMENT', `unknown --format ${JSON.stringify(opts.format)} (use text or json)`);
      }
      const path = opts.file ? resolve(opts.file) : join(resolve(context), 'Dockerfile');
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        throw new TbuildError('TB_INVALID_ARGUMENT', `cannot read Dockerfile ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
      }
      const file = opts.file ?? 'Dockerfile';
      const df = parseDockerfile(text, { file });
      const resolved = resolveDockerfile(df, { buildArgs: keyValues(opts.buildArg, '--build-arg', true), ...(opts.target ? { target: opts.target } : {}) });
      const o = outline(resolved);
      ctx.stdout.write(opts.format === 'json' ? JSON.stringify(o, null, 2) + '\n' : formatOutline(o, file));
    });
};

import { collect, keyValues, readDockerfileArg, textOrJson } from '../options.js';
import type { RegisterCommand } from '../context.js';
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
      textOrJson(opts.format);
      const { file, text } = await readDockerfileArg(context, opts.file);
      const df = parseDockerfile(text, { file });
      const resolved = resolveDockerfile(df, { buildArgs: keyValues(opts.buildArg, '--build-arg', true), ...(opts.target ? { target: opts.target } : {}) });
      const o = outline(resolved);
      ctx.stdout.write(opts.format === 'json' ? JSON.stringify(o, null, 2) + '\n' : formatOutline(o, file));
    });
};

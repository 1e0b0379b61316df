import { dockerfileArgOptions, keyValues, readDockerfileArg, textOrJson, type DockerfileArgOptions } from '../options.js';
import type { RegisterCommand } from '../context.js';
import { parseDockerfile } from '../../parser/parse.js';
import { resolveDockerfile } from '../../parser/resolve.js';
import { formatOutline, outline } from '../../parser/outline.js';


/** `tbuild outline`: the stages, bases and ARGs of a Dockerfile, without building anything. */
export const registerOutline: RegisterCommand = (program, ctx) => {
  dockerfileArgOptions(
    program
      .command('outline')
      .description('show the stages of a Dockerfile, their bases and ARGs (with defaults and where they are used)'),
  )
    .action(async (context: string, opts: DockerfileArgOptions) => {
      textOrJson(opts.format);
      const { file, text } = await readDockerfileArg(context, opts.file);
      const df = parseDockerfile(text, { file });
      const resolved = resolveDockerfile(df, { buildArgs: keyValues(opts.buildArg, '--build-arg', true), ...(opts.target ? { target: opts.target } : {}) });
      const o = outline(resolved);
      ctx.stdout.write(opts.format === 'json' ? JSON.stringify(o, null, 2) + '\n' : formatOutline(o, file));
    });
};

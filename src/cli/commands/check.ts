import { dockerfileArgOptions, keyValues, readDockerfileArg, textOrJson, type DockerfileArgOptions } from '../options.js';
import type { RegisterCommand } from '../context.js';
import { parseDockerfile } from '../../parser/parse.js';
import { resolveDockerfile } from '../../parser/resolve.js';
import { renderSnippet } from '../../parser/render.js';
import { IgnoreMatcher, loadDockerignore } from '../../parser/dockerignore.js';
import { checkConfig, lintFailureMessage, RULES_BY_NAME, runChecks } from '../../parser/checks/index.js';
import type { Diagnostic } from '../../parser/types.js';

function formatText(diags: readonly Diagnostic[], source: string, file: string): string {
  let out = '';
  for (const d of diags) {
    const line = d.range ? ` (line ${d.range.startLine})` : '';
    out += `${d.severity === 'error' ? 'ERROR' : 'WARNING'}: ${d.rule} - ${d.message}${line}\n`;
    if (d.url) out += `  ${d.url}\n`;
    if (d.range) out += renderSnippet(source, d.range, file);
    out += '\n';
  }
  const n = diags.length;
  out += n === 0 ? 'Check complete, no warnings found.\n' : `Check complete, ${n} warning${n === 1 ? ' has' : 's have'} been found!\n`;
  return out;
}

/** Shaped like BuildKit's lint result (`buildx build --call=check,format=json`). */
function formatJson(diags: readonly Diagnostic[], file: string, error?: string): string {
  const warnings = diags.map((d) => ({
    ruleName: d.rule,
    description: RULES_BY_NAME.get(d.rule)?.description ?? '',
    ...(d.url ? { url: d.url } : {}),
    detail: d.message,
    severity: d.severity,
    ...(d.range
      ? { location: { sourceInfo: { filename: file }, ranges: [{ start: { line: d.range.startLine }, end: { line: d.range.endLine } }] } }
      : {}),
  }));
  return JSON.stringify({ warnings, ...(error ? { error } : {}) }, null, 2) + '\n';
}

/**
 * `tbuild check`: parse and resolve a Dockerfile, run the build checks, print what they find.
 * Exit status: 0 when clean or only warnings; 1 on parse/resolve errors, and on any finding when
 * the Dockerfile says `# check=error=true` (or BUILDKIT_DOCKERFILE_CHECK does).
 */
export const registerCheck: RegisterCommand = (program, ctx) => {
  dockerfileArgOptions(
    program
      .command('check')
      .description('run the Dockerfile build checks (lint) without building'),
  )
    .action(async (context: string, opts: DockerfileArgOptions) => {
      textOrJson(opts.format);
      const { contextDir, path, file, text } = await readDockerfileArg(context, opts.file);
      const buildArgs = keyValues(opts.buildArg, '--build-arg', true);
      const df = parseDockerfile(text, { file });
      resolveDockerfile(df, { buildArgs, ...(opts.target ? { target: opts.target } : {}) });
      const patterns = await loadDockerignore(contextDir, path);
      const ignore = new IgnoreMatcher(patterns);
      const diags = runChecks(df, { buildArgs, ignore, ...(opts.target ? { target: opts.target } : {}) });
      const failed = checkConfig(df, buildArgs).error && diags.length > 0;
      const error = failed ? lintFailureMessage(diags) : undefined;
      if (opts.format === 'json') {
        ctx.stdout.write(formatJson(diags, file, error));
      } else {
        ctx.stdout.write(formatText(diags, df.source, file));
        if (error) ctx.stderr.write(`ERROR: ${error}\n`);
      }
      if (failed) ctx.setExitCode(1);
    });
};

import { ruleUrl, type Rule, type RuleHit } from '../types.js';
import { commentsAbove } from '../analysis.js';
import type { Dockerfile, SourceRange } from '../../types.js';

function describe(df: Dockerfile, instruction: string, keys: string[], range: SourceRange): RuleHit[] {
  const comments = commentsAbove(df, range.startLine);
  if (comments.length === 0 || keys.length === 0) return [];
  const first = comments[comments.length - 1]!.split(' ')[0]!;
  if (keys.includes(first)) return [];
  const example = keys.length > 1 ? '<arg_key>' : keys[0]!;
  return [{ message: `Comment for ${instruction} should follow the format: \`# ${example} <description>\``, range }];
}

export const InvalidDefinitionDescription: Rule = {
  name: 'InvalidDefinitionDescription',
  description:
    'Comment for build stage or argument should follow the format: `# <arg/stage name> <description>`. If this is not intended to be a description comment, add an empty line or comment between the instruction and the comment.',
  url: ruleUrl('invalid-definition-description'),
  defaultSeverity: 'warning',
  experimental: true,
  check: ({ df }) => [
    ...df.globalArgs.flatMap((a) => describe(df, 'ARG', a.args.map((d) => d.key), a.range)),
    ...df.stages.flatMap((s) => [
      ...(s.name !== undefined ? describe(df, 'FROM', [s.name.toLowerCase()], s.from.range) : []),
      ...s.instructions.flatMap((i) => (i.kind === 'ARG' ? describe(df, 'ARG', i.args.map((d) => d.key), i.range) : [])),
    ]),
  ],
};

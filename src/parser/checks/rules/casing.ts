import { ruleUrl, type Rule, type RuleHit } from '../types.js';

const selfConsistent = (s: string): boolean => s === s.toLowerCase() || s === s.toUpperCase();

export const ConsistentInstructionCasing: Rule = {
  name: 'ConsistentInstructionCasing',
  description: 'All commands within the Dockerfile should use the same casing (either upper or lower)',
  url: ruleUrl('consistent-instruction-casing'),
  defaultSeverity: 'warning',
  check: ({ df }) => {
    // Instructions before the first FROM are not part of any stage and are not counted (BuildKit).
    const all = df.stages.flatMap((s) => [s.from, ...s.instructions]);
    let lower = 0;
    let upper = 0;
    for (const ins of all) {
      if (!selfConsistent(ins.keyword)) continue;
      if (ins.keyword === ins.keyword.toLowerCase()) lower++;
      else upper++;
    }
    const majorityLower = lower > upper;
    const hits: RuleHit[] = [];
    for (const ins of all) {
      const kw = ins.keyword;
      let want = '';
      if (majorityLower && kw.toLowerCase() !== kw) want = 'lowercase';
      else if (!majorityLower && kw.toUpperCase() !== kw) want = 'uppercase';
      if (want) hits.push({ message: `Command '${kw}' should match the case of the command majority (${want})`, range: ins.range });
    }
    return hits;
  },
};

export const NoEmptyContinuation: Rule = {
  name: 'NoEmptyContinuation',
  description: 'Empty continuation lines will become errors in a future release',
  url: ruleUrl('no-empty-continuation'),
  defaultSeverity: 'warning',
  // The parser finds these while joining lines; this rule reports them with BuildKit's wording,
  // at the instruction's last line as BuildKit does.
  check: ({ df }) =>
    df.diagnostics
      .filter((d) => d.rule === 'NoEmptyContinuation')
      .map((d): RuleHit => ({
        message: 'Empty continuation line',
        ...(d.range ? { range: { startLine: d.range.endLine, endLine: d.range.endLine } } : {}),
      })),
};

export const MaintainerDeprecated: Rule = {
  name: 'MaintainerDeprecated',
  description: 'The MAINTAINER instruction is deprecated, use a label instead to define an image author',
  url: ruleUrl('maintainer-deprecated'),
  defaultSeverity: 'warning',
  check: ({ df }) =>
    df.stages.flatMap((s) =>
      s.instructions
        .filter((i) => i.kind === 'MAINTAINER')
        .map((i): RuleHit => ({ message: 'Maintainer instruction is deprecated in favor of using label', range: i.range })),
    ),
};

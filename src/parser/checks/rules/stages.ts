import type { FromInstruction } from '../../types.js';
import { ruleUrl, type Rule, type RuleHit } from '../types.js';

/** FROM's arguments as BuildKit sees them: the words after the keyword, flags left out. */
export function fromArgs(from: FromInstruction): string[] {
  const words = from.original.trim().split(/[ \t\v\f\r\n]+/).slice(1);
  let i = 0;
  while (i < words.length && words[i]!.startsWith('--')) i++;
  return words.slice(i);
}

const isLower = (s: string): boolean => s === s.toLowerCase();
const isUpper = (s: string): boolean => s === s.toUpperCase();

export const StageNameCasing: Rule = {
  name: 'StageNameCasing',
  description: 'Stage names should be lowercase',
  url: ruleUrl('stage-name-casing'),
  defaultSeverity: 'warning',
  check: ({ df }) =>
    df.stages.flatMap((s): RuleHit[] => {
      const args = fromArgs(s.from);
      if (args.length !== 3 || isLower(args[2]!)) return [];
      return [{ message: `Stage name '${args[2]}' should be lowercase`, range: s.from.range }];
    }),
};

export const FromAsCasing: Rule = {
  name: 'FromAsCasing',
  description: "The 'as' keyword should match the case of the 'from' keyword",
  url: ruleUrl('from-as-casing'),
  defaultSeverity: 'warning',
  check: ({ df }) =>
    df.stages.flatMap((s): RuleHit[] => {
      const args = fromArgs(s.from);
      const kw = s.from.keyword;
      if (args.length < 3) return [];
      // a mixed-case FROM is ConsistentInstructionCasing's business
      if (!isLower(kw) && !isUpper(kw)) return [];
      const as = args[1]!;
      if (isLower(kw) ? isLower(as) : isUpper(as)) return [];
      return [{ message: `'${as}' and '${kw}' keywords' casing do not match`, range: s.from.range }];
    }),
};

export const DuplicateStageName: Rule = {
  name: 'DuplicateStageName',
  description: 'Stage names should be unique',
  url: ruleUrl('duplicate-stage-name'),
  defaultSeverity: 'warning',
  check: ({ df }) => {
    const seen = new Set<string>();
    const hits: RuleHit[] = [];
    for (const s of df.stages) {
      if (s.name === undefined) continue;
      const name = s.name.toLowerCase();
      if (seen.has(name)) hits.push({ message: `Duplicate stage name ${JSON.stringify(name)}, stage names should be unique`, range: s.from.range });
      seen.add(name);
    }
    return hits;
  },
};

const RESERVED = new Set(['context', 'scratch']);

export const ReservedStageName: Rule = {
  name: 'ReservedStageName',
  description: 'Reserved words should not be used as stage names',
  url: ruleUrl('reserved-stage-name'),
  defaultSeverity: 'warning',
  check: ({ df }) =>
    df.stages.flatMap((s): RuleHit[] => {
      const name = s.name?.toLowerCase();
      if (name === undefined || !RESERVED.has(name)) return [];
      return [{ message: `Stage name should not use the same name as reserved stage ${JSON.stringify(name)}`, range: s.from.range }];
    }),
};

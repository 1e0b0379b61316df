import { ruleUrl, type Rule, type RuleHit } from '../types.js';
import { tryExpand } from '../analysis.js';
import type { SourceRange } from '../../types.js';

export const JSONArgsRecommended: Rule = {
  name: 'JSONArgsRecommended',
  description: 'JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals',
  url: ruleUrl('json-args-recommended'),
  defaultSeverity: 'warning',
  check: ({ analysis }) =>
    analysis.stages.flatMap((sa) =>
      sa.instructions.flatMap(({ ins, shellSet }): RuleHit[] => {
        if (ins.kind !== 'CMD' && ins.kind !== 'ENTRYPOINT') return [];
        // with an explicit SHELL the shell form is a deliberate choice
        if (ins.command.type !== 'shell' || shellSet) return [];
        return [{ message: `JSON arguments recommended for ${ins.keyword} to prevent unintended behavior related to OS signals`, range: ins.range }];
      }),
    ),
};

export const MultipleInstructionsDisallowed: Rule = {
  name: 'MultipleInstructionsDisallowed',
  description: 'Multiple instructions of the same type should not be used in the same stage',
  url: ruleUrl('multiple-instructions-disallowed'),
  defaultSeverity: 'warning',
  check: ({ df }) => {
    const hits: RuleHit[] = [];
    for (const s of df.stages) {
      const last = new Map<string, SourceRange>();
      for (const ins of s.instructions) {
        if (ins.kind !== 'CMD' && ins.kind !== 'ENTRYPOINT' && ins.kind !== 'HEALTHCHECK') continue;
        const prev = last.get(ins.kind);
        // reported where the earlier one is: that is the instruction that has no effect
        if (prev) hits.push({ message: `Multiple ${ins.keyword} instructions should not be used in the same stage because only the last one will be used`, range: prev });
        last.set(ins.kind, ins.range);
      }
    }
    return hits;
  },
};

export const LegacyKeyValueFormat: Rule = {
  name: 'LegacyKeyValueFormat',
  description: 'Legacy key/value format with whitespace separator should not be used',
  url: ruleUrl('legacy-key-value-format'),
  defaultSeverity: 'warning',
  check: ({ df }) =>
    df.stages.flatMap((s) =>
      s.instructions.flatMap((ins): RuleHit[] => {
        if ((ins.kind !== 'ENV' && ins.kind !== 'LABEL') || !ins.legacy) return [];
        const k = ins.keyword;
        return [{ message: `"${k} key=value" should be used instead of legacy "${k} key value" format`, range: ins.range }];
      }),
    ),
};

export const WorkdirRelativePath: Rule = {
  name: 'WorkdirRelativePath',
  description: 'Relative workdir without an absolute workdir declared within the build can have unexpected results if the base image changes',
  url: ruleUrl('workdir-relative-path'),
  defaultSeverity: 'warning',
  check: ({ df, analysis }) =>
    analysis.stages.flatMap((sa) =>
      sa.instructions.flatMap(({ ins, scope, workdirSet }): RuleHit[] => {
        // only the first WORKDIR of a stage chain matters: fixing it fixes the later ones
        if (ins.kind !== 'WORKDIR' || workdirSet) return [];
        const path = tryExpand(ins.path, (n) => scope.env.get(n), df.directives.escape)?.result ?? ins.path;
        if (path.startsWith('/')) return [];
        return [{ message: `Relative workdir ${JSON.stringify(path)} can have unexpected results if the base image changes`, range: ins.range }];
      }),
    ),
};

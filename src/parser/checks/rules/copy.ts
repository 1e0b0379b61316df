import { ruleUrl, type Rule, type RuleHit } from '../types.js';
import { tryExpand } from '../analysis.js';
import { cleanPath } from '../../dockerignore/clean.js';

const REMOTE = /^(?:https?:\/\/|git@|git:\/\/|ssh:\/\/)/;
const ROOT_PATTERNS = new Set(['*', '**', '**/*']);

export const CopyIgnoredFile: Rule = {
  name: 'CopyIgnoredFile',
  description: 'Attempting to Copy file that is excluded by .dockerignore',
  url: ruleUrl('copy-ignored-file'),
  defaultSeverity: 'warning',
  check: ({ df, opts, analysis }) => {
    const ignore = opts.ignore;
    // With `!` exceptions a directory may be excluded while a file inside it is not; BuildKit does
    // not try to decide that statically, and neither do we.
    if (!ignore || !ignore.hasPatterns || ignore.hasExclusions) return [];
    const rootIgnored = ignore.patterns.some((p) => ROOT_PATTERNS.has(p));
    const hits: RuleHit[] = [];
    for (const sa of analysis.stages) {
      for (const { ins, scope } of sa.instructions) {
        if ((ins.kind !== 'COPY' && ins.kind !== 'ADD') || ins.from !== undefined) continue;
        const heredocs = new Set(ins.heredocs.map((h) => h.name));
        for (const raw of ins.sources) {
          if (heredocs.has(raw)) continue;
          const expanded = tryExpand(raw, (n) => scope.env.get(n), df.directives.escape)?.result ?? raw;
          if (ins.kind === 'ADD' && REMOTE.test(expanded)) continue;
          const src = cleanPath(expanded);
          // the context root itself only counts when everything at the root is ignored
          if ((src === '.' || src === '/') && !rootIgnored) continue;
          if (!ignore.matchesOrParentMatches(src)) continue;
          const cmd = ins.kind === 'ADD' ? 'Add' : 'Copy';
          hits.push({ message: `Attempting to ${cmd} file ${JSON.stringify(src)} that is excluded by .dockerignore`, range: ins.range });
        }
      }
    }
    return hits;
  },
};

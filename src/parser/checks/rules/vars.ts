import { ruleUrl, type Rule, type RuleHit } from '../types.js';
import { isKnownName, tryExpand, type Scope } from '../analysis.js';
import type { Instruction } from '../../types.js';
import { looksSecret, suggestName } from '../util.js';

/** The words BuildKit expands for an instruction before dispatching it (its `Expand` method). */
function expandedWords(ins: Instruction): string[] {
  switch (ins.kind) {
    case 'ENV':
    case 'LABEL':
      return ins.pairs.flatMap((p) => [p.key, p.value]);
    case 'COPY':
    case 'ADD': {
      const heredocs = new Set(ins.heredocs.map((h) => h.name));
      return [
        ...(ins.chown !== undefined ? [ins.chown] : []),
        ...(ins.chmod !== undefined ? [ins.chmod] : []),
        ...(ins.checksum !== undefined ? [ins.checksum] : []),
        ...ins.sources.filter((s) => !heredocs.has(s)),
        ins.dest,
      ];
    }
    case 'WORKDIR':
      return [ins.path];
    case 'USER':
      return [ins.user];
    case 'VOLUME':
      return ins.paths;
    case 'STOPSIGNAL':
      return [ins.signal];
    case 'RUN':
      return ins.mounts;
    default:
      return [];
  }
}

export const UndefinedVar: Rule = {
  name: 'UndefinedVar',
  description: 'Variables should be defined before their use',
  url: ruleUrl('undefined-var'),
  defaultSeverity: 'warning',
  check: ({ df, analysis, opts }) => {
    const escape = df.directives.escape;
    const hits: RuleHit[] = [];
    const report = (names: Iterable<string>, scope: Scope, range: Instruction['range']): void => {
      for (const name of names) {
        if (isKnownName(scope, name)) continue;
        const near = suggestName(name, scope.env.keys());
        hits.push({ message: `Usage of undefined variable '$${name}'${near ? ` (did you mean $${near}?)` : ''}`, range });
      }
    };
    for (const sa of analysis.stages) {
      for (const { ins, scope } of sa.instructions) {
        if (ins.kind === 'ARG') {
          // ARG defaults are expanded one declaration at a time, each seeing the ones before it
          // what this instruction declares, over the scope it starts from (no copy of the whole scope)
          const ownEnv = new Map<string, string>();
          const ownDeclared = new Set<string>();
          const env = { get: (n: string) => (ownEnv.has(n) ? ownEnv.get(n) : scope.env.get(n)), keys: () => new Set([...ownEnv.keys(), ...scope.env.keys()]).values() };
          const declared = { has: (n: string) => ownDeclared.has(n) || scope.declared.has(n) };
          const unmatched = new Set<string>();
          for (const decl of ins.args) {
            const fromBuild = Object.prototype.hasOwnProperty.call(opts.buildArgs ?? {}, decl.key);
            let value = fromBuild ? opts.buildArgs![decl.key] : undefined;
            if (!fromBuild && decl.default !== undefined) {
              const r = tryExpand(decl.default, (n) => env.get(n), escape);
              for (const n of r?.unmatched ?? []) if (!declared.has(n)) unmatched.add(n);
              value = r?.result ?? '';
            } else if (!fromBuild) {
              value = analysis.globals.get(decl.key);
            }
            ownDeclared.add(decl.key);
            if (value !== undefined) ownEnv.set(decl.key, value);
          }
          report(unmatched, { env, declared }, ins.range);
          continue;
        }
        const unmatched = new Set<string>();
        for (const word of expandedWords(ins)) {
          for (const n of tryExpand(word, (k) => scope.env.get(k), escape)?.unmatched ?? []) unmatched.add(n);
        }
        report(unmatched, scope, ins.range);
      }
    }
    return hits;
  },
};

export const SecretsUsedInArgOrEnv: Rule = {
  name: 'SecretsUsedInArgOrEnv',
  description: 'Sensitive data should not be used in the ARG or ENV commands',
  url: ruleUrl('secrets-used-in-arg-or-env'),
  defaultSeverity: 'warning',
  check: ({ df }) =>
    df.stages.flatMap((s) =>
      s.instructions.flatMap((ins): RuleHit[] => {
        const keys = ins.kind === 'ARG' ? ins.args.map((a) => a.key) : ins.kind === 'ENV' ? ins.pairs.map((p) => p.key) : [];
        return keys
          .filter(looksSecret)
          .map((key) => ({ message: `Do not use ARG or ENV instructions for sensitive data (${ins.kind} ${JSON.stringify(key)})`, range: ins.range }));
      }),
    ),
};

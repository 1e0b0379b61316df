import { ruleUrl, type Rule, type RuleHit } from '../types.js';
import { checkGlobals, tryExpand } from '../analysis.js';
import { isValidReference, parsePlatform, suggestName } from '../util.js';
import { DEFAULT_PLATFORM } from '../../resolve.js';

export const UndefinedArgInFrom: Rule = {
  name: 'UndefinedArgInFrom',
  description: 'FROM command must use declared ARGs',
  url: ruleUrl('undefined-arg-in-from'),
  defaultSeverity: 'warning',
  check: ({ df, analysis }) => {
    const hits: RuleHit[] = [];
    const lookup = (n: string): string | undefined => analysis.globals.get(n);
    for (const s of df.stages) {
      for (const word of [s.from.image, s.from.platform]) {
        if (word === undefined) continue;
        const r = tryExpand(word, lookup, df.directives.escape);
        for (const name of r?.unmatched ?? []) {
          if (analysis.globalKeys.has(name)) continue;
          const near = suggestName(name, analysis.globalKeys);
          hits.push({ message: `FROM argument '${name}' is not declared${near ? ` (did you mean ${near}?)` : ''}`, range: s.from.range });
        }
      }
    }
    return hits;
  },
};

export const RedundantTargetPlatform: Rule = {
  name: 'RedundantTargetPlatform',
  description: 'Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior',
  url: ruleUrl('redundant-target-platform'),
  defaultSeverity: 'warning',
  check: ({ df, analysis }) =>
    df.stages.flatMap((s): RuleHit[] => {
      if (s.from.platform === undefined) return [];
      const r = tryExpand(s.from.platform, (n) => analysis.globals.get(n), df.directives.escape);
      // only when $TARGETPLATFORM alone made the value
      if (!r || r.matched.size !== 1 || r.unmatched.size !== 0 || !r.matched.has('TARGETPLATFORM')) return [];
      if (r.result !== analysis.globals.get('TARGETPLATFORM')) return [];
      return [{ message: `Setting platform to predefined ${s.from.platform} in FROM is redundant as this is the default behavior`, range: s.from.range }];
    }),
};

export const FromPlatformFlagConstDisallowed: Rule = {
  name: 'FromPlatformFlagConstDisallowed',
  description: 'FROM --platform flag should not use a constant value',
  url: ruleUrl('from-platform-flag-const-disallowed'),
  defaultSeverity: 'warning',
  check: ({ df, analysis }) =>
    df.stages.flatMap((s): RuleHit[] => {
      if (s.from.platform === undefined) return [];
      const r = tryExpand(s.from.platform, (n) => analysis.globals.get(n), df.directives.escape);
      if (!r || r.matched.size > 0 || r.unmatched.size > 0) return [];
      const p = parsePlatform(r.result);
      if (!p) return [];
      // a stage named for its platform (`FROM --platform=linux/arm64 … AS build-arm64`) is deliberate
      const name = s.name?.toLowerCase() ?? '';
      if (name.includes(p.os) || name.includes(p.arch)) return [];
      return [{ message: `FROM --platform flag should not use constant value ${JSON.stringify(r.result)}`, range: s.from.range }];
    }),
};

export const InvalidDefaultArgInFrom: Rule = {
  name: 'InvalidDefaultArgInFrom',
  description: 'Default value for global ARG results in an empty or invalid base image name',
  url: ruleUrl('invalid-default-arg-in-from'),
  defaultSeverity: 'warning',
  check: ({ df, opts }) => {
    // as if no --build-arg were given: the Dockerfile must stand on its defaults
    const defaults = checkGlobals(df, opts, {});
    const hits: RuleHit[] = [];
    for (const s of df.stages) {
      const r = tryExpand(s.from.image, (n) => defaults.get(n), df.directives.escape);
      if (!r) return hits;
      if (!isValidReference(r.result)) {
        hits.push({ message: `Default value for ARG ${s.from.image} results in empty or invalid base image name`, range: s.from.range });
      }
    }
    return hits;
  },
};

const format = (p: { os: string; arch: string; variant: string }): string => [p.os, p.arch, p.variant].filter(Boolean).join('/');

export const InvalidBaseImagePlatform: Rule = {
  name: 'InvalidBaseImagePlatform',
  description: 'Base image platform does not match expected target platform',
  defaultSeverity: 'warning',
  // Needs the pulled image's platform: runs only for bases that `opts.baseImage` describes.
  check: ({ df, opts, analysis }) =>
    analysis.stages.flatMap((sa): RuleHit[] => {
      const actualSpec = sa.baseImage?.platform;
      if (!actualSpec || sa.baseName === undefined) return [];
      const wanted = sa.stage.from.platform !== undefined
        ? tryExpand(sa.stage.from.platform, (n) => analysis.globals.get(n), df.directives.escape)?.result
        : (opts.targetPlatform ?? DEFAULT_PLATFORM);
      const expected = wanted ? parsePlatform(wanted) : undefined;
      const actual = parsePlatform(actualSpec);
      if (!expected || !actual) return [];
      if (expected.os === actual.os && expected.arch === actual.arch) return [];
      return [{
        message: `Base image ${sa.baseName} was pulled with platform ${JSON.stringify(format(actual))}, expected ${JSON.stringify(format(expected))} for current build`,
        range: sa.stage.from.range,
      }];
    }),
};

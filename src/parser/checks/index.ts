/**
 * Build checks (BuildKit's Dockerfile linter): rules as data, run over a parsed Dockerfile.
 * Which rules run is decided by `# check=skip=…;error=…;experimental=…` at the top of the file,
 * replaced as a whole by the BUILDKIT_DOCKERFILE_CHECK build arg when given, and narrowed per
 * instruction by a `# check=skip=…` comment right above it.
 */
import type { Diagnostic, Dockerfile } from '../types.js';
import { analyse, commentsAbove } from './analysis.js';
import { mergeConfig, parseCheckDirective, ruleEnabled, type CheckConfig } from './directive.js';
import type { CheckOptions, Rule } from './types.js';
import { DuplicateStageName, FromAsCasing, ReservedStageName, StageNameCasing } from './rules/stages.js';
import { ConsistentInstructionCasing, MaintainerDeprecated, NoEmptyContinuation } from './rules/casing.js';
import {
  FromPlatformFlagConstDisallowed,
  InvalidBaseImagePlatform,
  InvalidDefaultArgInFrom,
  RedundantTargetPlatform,
  UndefinedArgInFrom,
} from './rules/from.js';
import { JSONArgsRecommended, LegacyKeyValueFormat, MultipleInstructionsDisallowed, WorkdirRelativePath } from './rules/commands.js';
import { SecretsUsedInArgOrEnv, UndefinedVar } from './rules/vars.js';
import { ExposeInvalidFormat, ExposeProtoCasing } from './rules/expose.js';
import { CopyIgnoredFile } from './rules/copy.js';
import { InvalidDefinitionDescription } from './rules/description.js';

export { parseCheckDirective, type CheckConfig } from './directive.js';
export type { BaseImageInfo, CheckOptions, Rule, RuleHit } from './types.js';

/** Every rule, in BuildKit's ruleset order. */
export const RULES: readonly Rule[] = [
  StageNameCasing,
  FromAsCasing,
  NoEmptyContinuation,
  ConsistentInstructionCasing,
  DuplicateStageName,
  ReservedStageName,
  JSONArgsRecommended,
  MaintainerDeprecated,
  UndefinedArgInFrom,
  WorkdirRelativePath,
  UndefinedVar,
  MultipleInstructionsDisallowed,
  LegacyKeyValueFormat,
  InvalidBaseImagePlatform,
  RedundantTargetPlatform,
  SecretsUsedInArgOrEnv,
  InvalidDefaultArgInFrom,
  FromPlatformFlagConstDisallowed,
  CopyIgnoredFile,
  InvalidDefinitionDescription,
  ExposeProtoCasing,
  ExposeInvalidFormat,
];

export const RULES_BY_NAME: ReadonlyMap<string, Rule> = new Map(RULES.map((r) => [r.name, r]));

/** The check configuration in force: the build arg if given, else the `# check=` directive. */
export function checkConfig(df: Dockerfile, buildArgs: Record<string, string> = {}): CheckConfig {
  const fromArg = Object.prototype.hasOwnProperty.call(buildArgs, 'BUILDKIT_DOCKERFILE_CHECK');
  return parseCheckDirective(fromArg ? buildArgs.BUILDKIT_DOCKERFILE_CHECK : df.directives.check);
}

/** A `# check=` comment directly above an instruction, if any (BuildKit reads the first one). */
function commentConfig(df: Dockerfile, line: number): CheckConfig | undefined {
  for (const c of commentsAbove(df, line)) {
    const m = /^check\s*=\s*(\S*)/i.exec(c);
    if (!m) continue;
    try {
      return parseCheckDirective(m[1]);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * Run the enabled rules. Findings are warnings; with `error=true` they come back with severity
 * `error` (the build then fails with TB_CHECK_FAILED, as BuildKit's "lint violation found").
 * An invalid check configuration throws TB_PARSE_DIRECTIVE. Sorted by line.
 */
export function runChecks(df: Dockerfile, opts: CheckOptions = {}): Diagnostic[] {
  const config = checkConfig(df, opts.buildArgs);
  const analysis = analyse(df, opts);
  const ctx = { df, opts, analysis };
  const out: Diagnostic[] = [];
  for (const rule of RULES) {
    const experimental = rule.experimental === true;
    // cheap exit when the file-level config rules it out and no comment could turn it back on
    if (!ruleEnabled(config, rule.name, experimental) && !experimental) continue;
    for (const hit of rule.check(ctx)) {
      const local = hit.range ? commentConfig(df, hit.range.startLine) : undefined;
      const effective = local ? mergeConfig(config, local) : config;
      if (!ruleEnabled(effective, rule.name, experimental)) continue;
      out.push({
        rule: rule.name,
        severity: config.error ? 'error' : rule.defaultSeverity,
        message: hit.message,
        ...(hit.range ? { range: { ...hit.range } } : {}),
        ...(rule.url ? { url: rule.url } : {}),
      });
    }
  }
  return out
    .map((d, i) => ({ d, i }))
    .sort((a, b) => (a.d.range?.startLine ?? 0) - (b.d.range?.startLine ?? 0) || a.i - b.i)
    .map(({ d }) => d);
}

/** BuildKit's failure message when `error=true` and checks found something. */
export function lintFailureMessage(diagnostics: readonly Diagnostic[]): string {
  const rules = [...new Set(diagnostics.map((d) => d.rule))];
  return `lint violation found for rules: ${rules.join(', ')}`;
}

/** BuildKit's one-line form, as printed after a build: `Rule: message (line N)`. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.rule}: ${d.message}${d.range && d.range.startLine > 0 ? ` (line ${d.range.startLine})` : ''}`;
}

import type { Dockerfile, Instruction, Severity, SourceRange, Stage } from '../types.js';
import type { IgnoreMatcher } from '../dockerignore.js';

/** What is known about a base image, when the caller can look it up (the checks never pull). */
export interface BaseImageInfo {
  /** Config env, `KEY=value`. */
  env?: string[];
  /** Config shell (a non-empty one silences JSONArgsRecommended). */
  shell?: string[];
  /** `os/arch[/variant]` of the image as resolved. */
  platform?: string;
}

export interface CheckOptions {
  buildArgs?: Record<string, string>;
  ignore?: IgnoreMatcher;
  target?: string;
  /** `os/arch[/variant]`; default linux/amd64. */
  buildPlatform?: string;
  targetPlatform?: string;
  /** Base image facts by (expanded) reference; unknown images get only the default PATH. */
  baseImage?: (ref: string) => BaseImageInfo | undefined;
}

/** One finding of a rule, before skip/error configuration is applied. */
export interface RuleHit {
  message: string;
  range?: SourceRange;
}

export interface CheckContext {
  df: Dockerfile;
  opts: CheckOptions;
  /** The simulated dispatch (scopes, base stages, …) shared by the rules; computed once. */
  analysis: Analysis;
}

/** A build check as data, named and worded as BuildKit's linter rules. */
export interface Rule {
  name: string;
  description: string;
  url?: string;
  defaultSeverity: Severity;
  /** Experimental rules run only when `# check=experimental=<name>|all` asks for them. */
  experimental?: boolean;
  check(ctx: CheckContext): RuleHit[];
}

export const ruleUrl = (slug: string): string => `https://docs.docker.com/go/dockerfile/rule/${slug}/`;

/** A rule's documentation page from its name: `JSONArgsRecommended` → `…/rule/json-args-recommended/`. */
export const ruleUrlOf = (rule: string): string =>
  ruleUrl(rule.replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2').replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase());

export interface StageAnalysis {
  stage: Stage;
  /** Lower-cased stage name, as BuildKit compares them. */
  name?: string;
  /** Expanded base name (with build args), or undefined when it could not be expanded. */
  baseName?: string;
  /** Index of the earlier stage this one builds on. */
  baseStage?: number;
  baseImage?: BaseImageInfo;
  instructions: InstructionState[];
}

export interface Analysis {
  /** Global ARGs with build args applied, plus BuildKit's automatic platform and stage args. */
  globals: Map<string, string | undefined>;
  /** Names FROM may use: automatic args and every global ARG (declared with or without value). */
  globalKeys: Set<string>;
  stages: StageAnalysis[];
}

/** The variables an instruction sees: ENV plus ARGs with values, and every declared ARG name. */
export interface Scope {
  env: ScopeEnv;
  declared: ScopeNames;
}

/** Read-only view of the variables an instruction sees (a snapshot: later instructions do not change it). */
export interface ScopeEnv {
  get(name: string): string | undefined;
  keys(): Iterable<string>;
}

export interface ScopeNames {
  has(name: string): boolean;
}

/** Dispatch state an instruction starts from (what BuildKit's dispatchState holds for the checks). */
export interface InstructionState {
  ins: Instruction;
  scope: Scope;
  /** A SHELL is in effect (set in this stage, a parent stage, or the base image config). */
  shellSet: boolean;
  /** A WORKDIR has been set in this stage or a parent stage. */
  workdirSet: boolean;
}

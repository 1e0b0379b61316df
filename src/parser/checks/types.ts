import type { Dockerfile, Severity, SourceRange } from '../types.js';
import type { IgnoreMatcher } from '../dockerignore.js';
import type { Analysis } from './analysis.js';

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

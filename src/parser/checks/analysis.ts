import type { Dockerfile, Instruction, Stage } from '../types.js';
import { globalScope, DEFAULT_PLATFORM } from '../resolve.js';
import { expandWordTracking, type Lookup } from '../shell/index.js';
import type { Analysis, BaseImageInfo, CheckOptions, InstructionState, Scope, StageAnalysis } from './types.js';
import { DEFAULT_PATH } from './util.js';

export type { Analysis, InstructionState, Scope, StageAnalysis } from './types.js';


const NON_ENV_ARGS = new Set(['BUILDKIT_SBOM_SCAN_CONTEXT', 'BUILDKIT_SBOM_SCAN_STAGE']);

/** Expand leniently: a check must never fail the build for a word the build itself will reject. */
export function tryExpand(word: string, lookup: Lookup, escape: '\\' | '`'): ReturnType<typeof expandWordTracking> | undefined {
  try {
    return expandWordTracking(word, lookup, { escape });
  } catch {
    return undefined;
  }
}

/** Global scope for the checks; `buildArgs: {}` gives the defaults-only view InvalidDefaultArgInFrom needs. */
export function checkGlobals(df: Dockerfile, opts: CheckOptions, buildArgs: Record<string, string>): Map<string, string | undefined> {
  let globals: Map<string, string | undefined>;
  try {
    globals = globalScope(df, {
      buildArgs,
      buildPlatform: opts.buildPlatform ?? DEFAULT_PLATFORM,
      targetPlatform: opts.targetPlatform ?? opts.buildPlatform ?? DEFAULT_PLATFORM,
    });
  } catch {
    globals = new Map();
  }
  for (const k of ['BUILDOSVERSION', 'TARGETOSVERSION']) if (!globals.has(k)) globals.set(k, '');
  if (!globals.has('TARGETSTAGE')) {
    const last = df.stages[df.stages.length - 1];
    globals.set('TARGETSTAGE', opts.target || last?.name?.toLowerCase() || 'default');
  }
  return globals;
}

/**
 * Walks every stage the way BuildKit's dispatcher would, without running anything: which scope each
 * instruction sees, whether SHELL/WORKDIR were set, which stage a FROM builds on. A stage based on
 * an earlier stage inherits its final state; one based on an image starts from the image's config
 * when `opts.baseImage` knows it, else from just the default PATH.
 */
export function analyse(df: Dockerfile, opts: CheckOptions): Analysis {
  const buildArgs = opts.buildArgs ?? {};
  const globals = checkGlobals(df, opts, buildArgs);
  const globalKeys = new Set(globals.keys());
  const escape = df.directives.escape;
  const globalLookup: Lookup = (n) => globals.get(n);
  const stages: StageAnalysis[] = [];
  const finals: Array<{ scope: Scope; shellSet: boolean; workdirSet: boolean }> = [];

  for (const stage of df.stages) {
    const sa: StageAnalysis = { stage, instructions: [] };
    if (stage.name !== undefined) sa.name = stage.name.toLowerCase();
    const base = tryExpand(stage.from.image, globalLookup, escape)?.result;
    let state: { scope: Scope; shellSet: boolean; workdirSet: boolean };
    if (base !== undefined) sa.baseName = base;
    const parent = base === undefined ? -1 : stages.findIndex((s) => s.name !== undefined && s.name === base.toLowerCase());
    if (parent >= 0) {
      sa.baseStage = parent;
      const f = finals[parent]!;
      state = { scope: { env: new Map(f.scope.env), declared: new Set(f.scope.declared) }, shellSet: f.shellSet, workdirSet: f.workdirSet };
    } else {
      const info = base && base !== 'scratch' ? opts.baseImage?.(base) : undefined;
      if (info) sa.baseImage = info;
      const env = new Map<string, string>();
      for (const kv of info?.env ?? []) {
        const eq = kv.indexOf('=');
        env.set(eq < 0 ? kv : kv.slice(0, eq), eq < 0 ? '' : kv.slice(eq + 1));
      }
      if (!env.has('PATH')) env.set('PATH', DEFAULT_PATH);
      state = { scope: { env, declared: new Set() }, shellSet: (info?.shell?.length ?? 0) > 0, workdirSet: false };
    }
    for (const ins of stage.instructions) {
      sa.instructions.push({
        ins,
        scope: { env: new Map(state.scope.env), declared: new Set(state.scope.declared) },
        shellSet: state.shellSet,
        workdirSet: state.workdirSet,
      });
      apply(ins, state, { globals, buildArgs, escape });
    }
    finals.push(state);
    stages.push(sa);
  }
  return { globals, globalKeys, stages };
}

function apply(
  ins: Instruction,
  state: { scope: Scope; shellSet: boolean; workdirSet: boolean },
  env: { globals: Map<string, string | undefined>; buildArgs: Record<string, string>; escape: '\\' | '`' },
): void {
  const { scope } = state;
  const lookup: Lookup = (n) => scope.env.get(n);
  switch (ins.kind) {
    case 'ARG':
      for (const decl of ins.args) {
        let value: string | undefined;
        if (Object.prototype.hasOwnProperty.call(env.buildArgs, decl.key)) value = env.buildArgs[decl.key];
        else if (decl.default !== undefined) value = tryExpand(decl.default, lookup, env.escape)?.result ?? '';
        else value = env.globals.get(decl.key);
        scope.declared.add(decl.key);
        if (value !== undefined && !NON_ENV_ARGS.has(decl.key)) scope.env.set(decl.key, value);
      }
      break;
    case 'ENV': {
      // every pair sees the scope from before the instruction
      const values = ins.pairs.map((p) => [tryExpand(p.key, lookup, env.escape)?.result ?? p.key, tryExpand(p.value, lookup, env.escape)?.result ?? ''] as const);
      for (const [k, v] of values) scope.env.set(k, v);
      break;
    }
    case 'SHELL':
      state.shellSet = true;
      break;
    case 'WORKDIR':
      state.workdirSet = true;
      break;
    default:
      break;
  }
}

/** Whether a variable is exempt from UndefinedVar (declared ARGs and BuildKit's internal args). */
export function isKnownName(scope: Scope, name: string): boolean {
  return scope.declared.has(name) || NON_ENV_ARGS.has(name);
}

const DIRECTIVE_LINE = /^#\s*(syntax|escape|check)\s*=/i;

/**
 * The comments BuildKit attaches to the instruction starting at `line` (its PrevComment): comment
 * lines since the previous instruction, without `#`, blank lines skipped, an empty `#` starting
 * over, parser directives at the top left out.
 */
const layouts = new WeakMap<Dockerfile, { lines: string[]; ends: number[] }>();

function layout(df: Dockerfile): { lines: string[]; ends: number[] } {
  let l = layouts.get(df);
  if (!l) {
    const ranges = [
      ...df.globalArgs.map((a) => a.range),
      ...df.stages.flatMap((s) => [s.from.range, ...s.instructions.map((i) => i.range)]),
    ];
    l = { lines: df.source.split(/\r?\n/), ends: ranges.map((r) => r.endLine) };
    layouts.set(df, l);
  }
  return l;
}

export function commentsAbove(df: Dockerfile, line: number): string[] {
  const { lines, ends } = layout(df);
  let prevEnd = 0;
  for (const e of ends) if (e < line && e > prevEnd) prevEnd = e;
  let out: string[] = [];
  for (let i = prevEnd; i < line - 1; i++) {
    const t = lines[i]!.trim();
    if (!t.startsWith('#')) continue;
    if (prevEnd === 0 && DIRECTIVE_LINE.test(t)) continue;
    const c = t.slice(1).trim();
    if (c === '') out = [];
    else out.push(c);
  }
  return out;
}

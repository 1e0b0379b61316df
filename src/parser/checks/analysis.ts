import type { Dockerfile, Instruction } from '../types.js';
import { globalScope, DEFAULT_PLATFORM } from '../resolve.js';
import { expandWordTracking, type Lookup } from '../shell/index.js';
import type { Analysis, CheckOptions, Scope, StageAnalysis } from './types.js';
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
  const finals: Array<{ scope: ScopeHistory; shellSet: boolean; workdirSet: boolean }> = [];

  for (const stage of df.stages) {
    const sa: StageAnalysis = { stage, instructions: [] };
    if (stage.name !== undefined) sa.name = stage.name.toLowerCase();
    const base = tryExpand(stage.from.image, globalLookup, escape)?.result;
    let state: { scope: ScopeHistory; shellSet: boolean; workdirSet: boolean };
    if (base !== undefined) sa.baseName = base;
    const parent = base === undefined ? -1 : stages.findIndex((s) => s.name !== undefined && s.name === base.toLowerCase());
    if (parent >= 0) {
      sa.baseStage = parent;
      const f = finals[parent]!;
      state = { scope: f.scope.fork(), shellSet: f.shellSet, workdirSet: f.workdirSet };
    } else {
      const info = base && base !== 'scratch' ? opts.baseImage?.(base) : undefined;
      if (info) sa.baseImage = info;
      const env = new Map<string, string>();
      for (const kv of info?.env ?? []) {
        const eq = kv.indexOf('=');
        env.set(eq < 0 ? kv : kv.slice(0, eq), eq < 0 ? '' : kv.slice(eq + 1));
      }
      if (!env.has('PATH')) env.set('PATH', DEFAULT_PATH);
      const scope = new ScopeHistory();
      for (const [k, v] of env) scope.set(k, v);
      state = { scope, shellSet: (info?.shell?.length ?? 0) > 0, workdirSet: false };
    }
    for (const ins of stage.instructions) {
      sa.instructions.push({
        ins,
        scope: state.scope.view(),
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
  state: { scope: ScopeHistory; shellSet: boolean; workdirSet: boolean },
  env: { globals: Map<string, string | undefined>; buildArgs: Record<string, string>; escape: '\\' | '`' },
): void {
  const { scope } = state;
  const lookup: Lookup = (n) => scope.get(n);
  switch (ins.kind) {
    case 'ARG':
      for (const decl of ins.args) {
        let value: string | undefined;
        if (Object.prototype.hasOwnProperty.call(env.buildArgs, decl.key)) value = env.buildArgs[decl.key];
        else if (decl.default !== undefined) value = tryExpand(decl.default, lookup, env.escape)?.result ?? '';
        else value = env.globals.get(decl.key);
        scope.declare(decl.key);
        if (value !== undefined && !NON_ENV_ARGS.has(decl.key)) scope.set(decl.key, value);
      }
      break;
    case 'ENV': {
      // every pair sees the scope from before the instruction
      const values = ins.pairs.map((p) => [tryExpand(p.key, lookup, env.escape)?.result ?? p.key, tryExpand(p.value, lookup, env.escape)?.result ?? ''] as const);
      for (const [k, v] of values) scope.set(k, v);
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
    l = { lines: df.source.split(/\r?\n/), ends: ranges.map((r) => r.endLine).sort((a, b) => a - b) };
    layouts.set(df, l);
  }
  return l;
}

export function commentsAbove(df: Dockerfile, line: number): string[] {
  const { lines, ends } = layout(df);
  // the last instruction ending above `line` (binary search: one call per instruction stays O(log n))
  let prevEnd = 0;
  let lo = 0;
  let hi = ends.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ends[mid]! < line) {
      prevEnd = ends[mid]!;
      lo = mid + 1;
    } else hi = mid - 1;
  }
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

/**
 * A stage's variables as they change, instruction by instruction. Every instruction keeps a view of
 * the scope it started from; views share this one history (each change is numbered, a view sees the
 * changes before its number), so a Dockerfile of n ARG/ENV lines costs O(n log n), not n copies of
 * an n-entry map.
 */
export class ScopeHistory {
  #seq = 0;
  readonly #values = new Map<string, Array<{ seq: number; value: string }>>();
  readonly #declared = new Map<string, number>();

  get(name: string): string | undefined {
    return latest(this.#values.get(name), this.#seq);
  }

  set(name: string, value: string): void {
    let list = this.#values.get(name);
    if (!list) this.#values.set(name, (list = []));
    list.push({ seq: this.#seq++, value });
  }

  declare(name: string): void {
    if (!this.#declared.has(name)) this.#declared.set(name, this.#seq++);
  }

  /** The scope as it is now; later changes do not show in it. */
  view(): Scope {
    const at = this.#seq;
    const values = this.#values;
    const declared = this.#declared;
    return {
      env: {
        get: (name) => latest(values.get(name), at),
        *keys() {
          for (const [k, list] of values) if (list[0]!.seq < at) yield k;
        },
      },
      declared: { has: (name) => (declared.get(name) ?? Infinity) < at },
    };
  }

  /** A new history starting from this one's current state (a stage built on another stage). */
  fork(): ScopeHistory {
    const next = new ScopeHistory();
    for (const [k, list] of this.#values) next.set(k, list[list.length - 1]!.value);
    for (const k of this.#declared.keys()) next.declare(k);
    return next;
  }
}

/** The value in force before change number `at` (binary search: a list is in change order). */
function latest(list: Array<{ seq: number; value: string }> | undefined, at: number): string | undefined {
  if (!list) return undefined;
  let lo = 0;
  let hi = list.length - 1;
  let found: string | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.seq < at) {
      found = list[mid]!.value;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

import { TbuildError, withRange } from '../errors.js';
import type { Dockerfile, ResolveOptions, ResolvedDockerfile, ResolvedStage, SourceRange, Stage } from './types.js';
import { expandWord } from './shell/index.js';
import { mountFrom } from './mount.js';
import { suggest } from './suggest.js';
import { attachSource } from './render.js';

export const DEFAULT_PLATFORM = 'linux/amd64';

/** `os/arch[/variant]` to the automatic platform ARGs with the given prefix (BUILD or TARGET). */
export function platformArgs(prefix: 'BUILD' | 'TARGET', platform: string): Array<[string, string]> {
  const [os = '', arch = '', variant = ''] = platform.split('/');
  return [
    [`${prefix}PLATFORM`, platform],
    [`${prefix}OS`, os],
    [`${prefix}ARCH`, arch],
    [`${prefix}VARIANT`, variant],
  ];
}

const own = (o: Record<string, string>, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** Longest value an expansion may produce: `ARG A=$A$A` repeated doubles it line by line. */
export const MAX_EXPANDED_LENGTH = 1 << 20;

export function checkLength(value: string, word: string): string {
  if (value.length > MAX_EXPANDED_LENGTH) {
    throw new TbuildError('TB_EXPAND', `expansion of ${JSON.stringify(word.slice(0, 60))} is longer than ${MAX_EXPANDED_LENGTH} characters`);
  }
  return value;
}

/**
 * Global scope: the automatic platform ARGs, then each ARG before the first FROM in order (its
 * default expanded against what came before it, a build arg replacing it).
 */
export function globalScope(df: Dockerfile, opts: ResolveOptions): Map<string, string | undefined> {
  const buildArgs = opts.buildArgs ?? {};
  const scope = new Map<string, string | undefined>([
    ...platformArgs('BUILD', opts.buildPlatform ?? DEFAULT_PLATFORM),
    ...platformArgs('TARGET', opts.targetPlatform ?? opts.buildPlatform ?? DEFAULT_PLATFORM),
  ]);
  const escape = df.directives.escape;
  const lookup = (name: string): string | undefined => scope.get(name);
  for (const ins of df.globalArgs) {
    for (const decl of ins.args) {
      if (own(buildArgs, decl.key)) scope.set(decl.key, buildArgs[decl.key]);
      else if (decl.default !== undefined) scope.set(decl.key, expandAt(decl.default, lookup, escape, ins.range, df));
      else if (!scope.has(decl.key)) scope.set(decl.key, undefined);
    }
  }
  return scope;
}

function expandAt(word: string, lookup: (n: string) => string | undefined, escape: '\\' | '`', range: SourceRange, df: Dockerfile): string {
  try {
    return checkLength(expandWord(word, lookup, { escape }), word);
  } catch (err) {
    if (err instanceof TbuildError) {
      attachSource(err, df.source);
      throw withRange(err, { ...range }, df.file);
    }
    throw err;
  }
}

/**
 * Finds a stage by name (case-insensitive) among `stages`. With duplicate names the last one
 * wins, as in BuildKit (whose name table is overwritten stage by stage).
 */
function byName(stages: readonly Stage[], name: string): Stage | undefined {
  const lower = name.toLowerCase();
  for (let i = stages.length - 1; i >= 0; i--) {
    const n = stages[i]!.name;
    if (n !== undefined && n.toLowerCase() === lower) return stages[i];
  }
  return undefined;
}

interface Edge {
  to: number;
  range: SourceRange;
}

/**
 * Expands FROM lines with the global ARGs, links stages to each other, picks the target and the
 * stages it needs (dependencies first). Errors: TB_STAGE_NOT_FOUND (target, or a stage index out
 * of range), TB_STAGE_CIRCULAR, TB_PARSE_BAD_ARGS (FROM expanding to nothing).
 */
export function resolveDockerfile(df: Dockerfile, opts: ResolveOptions = {}): ResolvedDockerfile {
  const globals = globalScope(df, opts);
  const lookup = (name: string): string | undefined => globals.get(name);
  const escape = df.directives.escape;
  const file = df.file;
  const errOpts = (range: SourceRange, details: Record<string, unknown> = {}) => {
    const d = { ...details };
    Object.defineProperty(d, 'source', { value: df.source, enumerable: false, configurable: true, writable: true });
    return { range: { ...range }, file, details: d };
  };

  const edges: Edge[][] = [];
  const stages: ResolvedStage[] = df.stages.map((stage, i) => {
    const from = stage.from;
    const image = expandAt(from.image, lookup, escape, from.range, df);
    if (!image) throw new TbuildError('TB_PARSE_BAD_ARGS', `base name (${from.image}) should not be blank`, errOpts(from.range));
    const out: ResolvedStage = { stage, base: { type: 'image', ref: image }, dependsOn: [] };
    if (from.platform !== undefined) {
      out.platform = expandAt(from.platform, lookup, escape, from.range, df);
      if (!out.platform) throw new TbuildError('TB_PARSE_BAD_ARGS', `empty platform value from expression ${from.platform}`, errOpts(from.range));
    }
    const mine: Edge[] = [];
    const baseStage = byName(df.stages.slice(0, i), image);
    if (baseStage) {
      out.base = { type: 'stage', index: baseStage.index };
      mine.push({ to: baseStage.index, range: from.range });
    } else if (image === 'scratch') {
      out.base = { type: 'scratch' };
    }
    for (const ins of stage.instructions) {
      // neither takes variables (the parser refuses them), so the graph is known before building
      if ((ins.kind === 'COPY' || ins.kind === 'ADD') && ins.from !== undefined) {
        const target = stageRef(df, ins.from, ins.range, errOpts);
        if (target !== undefined) mine.push({ to: target, range: ins.range });
      }
      if (ins.kind === 'RUN') {
        for (const m of ins.mounts) {
          const f = mountFrom(m);
          const target = f === undefined ? undefined : byName(df.stages, f);
          if (target) mine.push({ to: target.index, range: ins.range });
        }
      }
    }
    edges.push(mine);
    out.dependsOn = [...new Set(mine.map((e) => e.to))];
    return out;
  });

  checkCycles(df, edges, errOpts);
  const target = pickTarget(df, opts.target);
  const needed: number[] = [];
  const seen = new Set<number>();
  const visit = (i: number): void => {
    if (seen.has(i)) return;
    seen.add(i);
    for (const d of stages[i]!.dependsOn) visit(d);
    needed.push(i);
  };
  visit(target);
  return { dockerfile: df, stages, target, needed, globalArgs: globals };
}

/** A COPY `--from` value: a stage name (any stage), a stage index, or (undefined) an image. */
function stageRef(df: Dockerfile, name: string, range: SourceRange, errOpts: (r: SourceRange, d?: Record<string, unknown>) => object): number | undefined {
  const named = byName(df.stages, name);
  if (named) return named.index;
  if (/^\d+$/.test(name)) {
    const index = Number(name);
    if (index >= df.stages.length) {
      throw new TbuildError('TB_STAGE_NOT_FOUND', `invalid stage index ${name}: the Dockerfile has ${df.stages.length} stage(s)`, errOpts(range, { stage: name }));
    }
    return index;
  }
  return undefined;
}

function pickTarget(df: Dockerfile, target: string | undefined): number {
  if (target === undefined || target === '') return df.stages.length - 1;
  const named = byName(df.stages, target);
  if (named) return named.index;
  if (/^\d+$/.test(target) && Number(target) < df.stages.length) return Number(target);
  const names = df.stages.flatMap((s) => (s.name ? [s.name] : []));
  const s = suggest(target, names);
  throw new TbuildError('TB_STAGE_NOT_FOUND', `target stage "${target}" could not be found${s ? ` (did you mean ${s}?)` : ''}`, {
    details: { target, stages: names, ...(s ? { suggestion: s } : {}) },
  });
}

function checkCycles(df: Dockerfile, edges: Edge[][], errOpts: (r: SourceRange, d?: Record<string, unknown>) => object): void {
  // 0 = unvisited, 1 = on the current path, 2 = done
  const state = new Array<number>(edges.length).fill(0);
  const label = (i: number): string => df.stages[i]!.name ?? `stage-${i}`;
  const visit = (i: number, stack: number[]): void => {
    state[i] = 1;
    for (const e of edges[i]!) {
      if (state[e.to] === 1) {
        const cycle = [...stack.slice(stack.indexOf(e.to)), e.to].map(label);
        const names = [...new Set(cycle)];
        throw new TbuildError('TB_STAGE_CIRCULAR', `circular dependency detected on stage: ${label(e.to)} (${names.length === 1 ? `${names[0]} refers to itself` : cycle.join(' -> ')})`, errOpts(e.range, { stage: label(e.to) }));
      }
      if (state[e.to] === 0) visit(e.to, [...stack, e.to]);
    }
    state[i] = 2;
  };
  for (let i = 0; i < edges.length; i++) if (state[i] === 0) visit(i, [i]);
}

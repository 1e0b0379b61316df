import type { Instruction, ResolvedDockerfile, ResolvedStage } from '../../parser/types.js';
import { parseDockerfile } from '../../parser/parse.js';
import { StageScope } from '../../parser/scope.js';
import { TbuildError, withRange } from '../../errors.js';
import { normalizeReference } from '../../images/reference.js';
import { GraphBuilder } from '../../solver/graph/vertex.js';
import type { Definition } from '../../solver/graph/types.js';
import { ConvertContext, type ConvertOptions, type ImageLookup } from './context.js';
import { parsePlatform } from '../../util/platform.js';
import { cloneConfig, DEFAULT_PATH, type StageState } from './state.js';
import { applyMetadata } from './config.js';
import { convertRun } from './run.js';
import { convertCopy, convertWorkdir } from './copy.js';

export type { ConvertOptions } from './context.js';
export type { StageState, HistoryDraft, ConfigDraft } from './state.js';

export interface Converted {
  definition: Definition;
  /** The target stage after its last instruction. */
  target: StageState;
  /** Every converted stage, by index. */
  stages: Map<number, StageState>;
}

/** Instructions → graph, for the stages the target needs only, in dependency order. */
export async function convert(resolved: ResolvedDockerfile, images: ImageLookup, opts: ConvertOptions): Promise<Converted> {
  const graph = new GraphBuilder();
  const ctx = new ConvertContext(graph, resolved, images, opts);
  for (const idx of resolved.needed) {
    const rs = resolved.stages[idx]!;
    const state = await startStage(ctx, rs);
    ctx.stages.set(idx, state);
    for (const ins of rs.stage.instructions) {
      if (makesStep(ins)) state.step++;
      await convertInstruction(ctx, state, ins);
    }
  }
  const target = ctx.stages.get(resolved.target);
  if (!target) throw new TbuildError('TB_INTERNAL', `target stage ${resolved.target} was not converted`);
  if (opts.labels && Object.keys(opts.labels).length) {
    target.image.config.Labels = { ...(target.image.config.Labels ?? {}), ...opts.labels };
  }
  return { definition: graph.definition(opts.file, resolved.dockerfile.source), target, stages: ctx.stages };
}

/**
 * BuildKit numbers a stage's steps by the instructions that become vertices (`[base 2/4] RUN …`):
 * RUN, COPY, ADD, WORKDIR, and FROM when it pulls an image; ENV, ARG, CMD and the like change
 * only the config and are not counted, so the numbers have no gaps.
 */
const makesStep = (ins: Instruction): boolean => ins.kind === 'RUN' || ins.kind === 'COPY' || ins.kind === 'ADD' || ins.kind === 'WORKDIR';

/** FROM as BuildKit names it: the full reference (`docker.io/library/busybox:latest`), when it parses. */
function shownReference(ref: string): string {
  try {
    return normalizeReference(ref);
  } catch {
    return ref;
  }
}

async function convertInstruction(ctx: ConvertContext, state: StageState, ins: Instruction): Promise<void> {
  try {
    switch (ins.kind) {
      case 'RUN':
        return convertRun(ctx, state, ins);
      case 'COPY':
      case 'ADD':
        return await convertCopy(ctx, state, ins);
      case 'WORKDIR':
        return convertWorkdir(ctx, state, ins);
      case 'FROM':
        throw new TbuildError('TB_INTERNAL', 'FROM inside a stage');
      default:
        return applyMetadata(ctx, state, ins);
    }
  } catch (err) {
    throw withRange(err as Error, ins.range, ctx.opts.file);
  }
}

async function startStage(ctx: ConvertContext, rs: ResolvedStage): Promise<StageState> {
  const { stage } = rs;
  const displayName = stage.name ?? `stage-${stage.index}`;
  const file = ctx.opts.file;
  // FROM --platform=… (already expanded) builds this stage for that platform, else the build's target
  let p = ctx.opts.platform;
  const explicit = rs.platform !== undefined || (ctx.opts.platformExplicit ?? false);
  if (rs.platform !== undefined) {
    try {
      p = parsePlatform(rs.platform);
    } catch (err) {
      throw withRange(err as Error, stage.from.range, file);
    }
  }
  let state: Omit<StageState, 'scope'>;
  let onbuild: string[] = [];
  const fromImage = rs.base.type === 'image' ? 1 : 0;
  const steps = stage.instructions.filter(makesStep).length + fromImage;
  if (rs.base.type === 'scratch') {
    const vertex = ctx.graph.add({ type: 'source', source: 'scratch' }, [], { name: '[internal] scratch', stages: [displayName] });
    state = {
      index: stage.index,
      displayName,
      vertex,
      image: { architecture: p.architecture, os: p.os, variant: p.variant, config: {} },
      platform: p,
      platformExplicit: explicit,
      history: [],
      cmdSet: false,
      step: 0,
      steps,
    };
  } else if (rs.base.type === 'stage') {
    const parent = ctx.stages.get(rs.base.index);
    if (!parent) {
      throw new TbuildError('TB_STAGE_NOT_FOUND', `base stage ${rs.base.index} not built`, { range: stage.from.range, file });
    }
    onbuild = parent.image.config.OnBuild ?? [];
    state = {
      index: stage.index,
      displayName,
      vertex: parent.vertex,
      image: { ...parent.image, config: cloneConfig(parent.image.config) },
      platform: parent.platform,
      platformExplicit: parent.platformExplicit,
      history: [...parent.history],
      cmdSet: false,
      step: 0,
      steps,
    };
  } else {
    const { vertex: v, record } = await ctx.imageSource(
      rs.base.ref,
      stage.from.range,
      ctx.stepName({ displayName, step: 1, steps }, `FROM ${shownReference(rs.base.ref)}`),
      p,
      explicit,
    );
    const cfg = record.config;
    onbuild = cfg.config.OnBuild ?? [];
    state = {
      index: stage.index,
      displayName,
      vertex: v,
      image: {
        architecture: cfg.architecture || p.architecture,
        os: cfg.os || p.os,
        variant: cfg.variant,
        author: cfg.author,
        config: cloneConfig(cfg.config ?? {}),
      },
      platform: p,
      platformExplicit: explicit,
      history: (cfg.history ?? []).map((h) => ({ ...h })),
      cmdSet: false,
      step: 1,
      steps,
    };
  }
  const env = (state.image.config.Env ??= []);
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(`PATH=${DEFAULT_PATH}`);
  const scope = new StageScope({
    globalArgs: ctx.resolved.globalArgs,
    buildArgs: ctx.opts.buildArgs,
    baseEnv: [...env],
    escape: ctx.resolved.dockerfile.directives.escape,
  });
  const full: StageState = { ...state, scope };
  if (onbuild.length) {
    // ONBUILD triggers of the base run right after FROM, then are cleared from the new image.
    full.image.config.OnBuild = null;
    for (const expr of onbuild) {
      // a name of its own, so the Dockerfile's registered source (for error snippets) stays
      const parsed = parseDockerfile(`FROM scratch\n${expr}\n`, { file: `${file} (ONBUILD)` });
      const trigger = parsed.stages[0]?.instructions[0];
      if (!trigger) continue;
      const ins = { ...trigger, range: stage.from.range } as Instruction;
      await convertInstruction(ctx, full, ins);
    }
  }
  return full;
}

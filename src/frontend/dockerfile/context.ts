import type { Digest } from '../../util/digest.js';
import type { ImageRecord } from '../../images/types.js';
import type { ResolvedDockerfile, SourceRange } from '../../parser/types.js';
import { TbuildError, withRange } from '../../errors.js';
import type { GraphBuilder } from '../../solver/graph/vertex.js';
import type { StageState } from './state.js';
import { formatPlatform, platformOfConfig, samePlatform, type Platform } from '../../util/platform.js';

/**
 * Where FROM finds its images. With `platform` the lookup must find that platform's image (from a
 * registry when the stored one is another's); without it, whatever the name holds.
 */
export interface ImageLookup {
  get(ref: string, platform?: Platform): Promise<ImageRecord | undefined>;
}

export interface ConvertOptions {
  buildArgs: Record<string, string>;
  /** Network for RUN steps that do not say `--network`. */
  network: 'default' | 'none' | 'host';
  /** Entitlements granted to the build (`security.insecure` lets RUN --security=insecure run privileged). */
  allow?: readonly string[];
  /** Dockerfile path for messages. */
  file: string;
  /** Extra labels for the target image (`--label`). */
  labels?: Record<string, string>;
  /** The target platform: `--platform`, or this machine's. */
  platform: Platform;
  /** The platform was asked for (`--platform`): a stored base image of another platform is not used. */
  platformExplicit?: boolean;
  /** Warnings found while converting (a base image of another platform than the build's). */
  onWarning?: (w: { rule: string; message: string; range?: SourceRange }) => void;
  /** `--add-host NAME:IP` for every RUN (IP may be `host-gateway`). */
  extraHosts?: readonly string[];
  /** Names of local named contexts (`--build-context NAME=DIR`): `COPY --from=NAME` reads that directory. */
  localContexts?: readonly string[];
}

/** What every instruction handler gets: the graph being built and the stages converted so far. */
export class ConvertContext {
  readonly graph: GraphBuilder;
  readonly resolved: ResolvedDockerfile;
  /** Only lookups: converting never changes the store. */
  readonly images: ImageLookup;
  readonly opts: ConvertOptions;
  readonly stages = new Map<number, StageState>();
  /** BuildKit leaves the stage name out of step names when there is only one stage. */
  readonly singleStage: boolean;
  readonly #imageVertices = new Map<string, { vertex: Digest; record: ImageRecord }>();

  constructor(graph: GraphBuilder, resolved: ResolvedDockerfile, images: ImageLookup, opts: ConvertOptions) {
    this.graph = graph;
    this.resolved = resolved;
    this.images = images;
    this.opts = opts;
    this.singleStage = resolved.stages.length === 1;
  }

  /** `[stage-1 2/5] RUN …`, or `[2/5] RUN …` in a one-stage Dockerfile. */
  stepName(state: { displayName: string; step: number; steps: number }, text: string): string {
    const where = this.singleStage ? `${state.step}/${state.steps}` : `${state.displayName} ${state.step}/${state.steps}`;
    return `[${where}] ${text}`;
  }

  /**
   * A source vertex for `ref`'s image of `platform`. A stage whose platform was asked for (FROM
   * --platform, `--platform`) gets that platform's image or an error; otherwise a stored image of
   * another platform is used with BuildKit's InvalidBaseImagePlatform warning.
   */
  async imageSource(ref: string, range?: SourceRange, stepName?: string, platform: Platform = this.opts.platform, explicit = this.opts.platformExplicit ?? false): Promise<{ vertex: Digest; record: ImageRecord }> {
    const key = `${ref}\0${formatPlatform(platform)}`;
    const known = this.#imageVertices.get(key);
    if (known) return known;
    if (this.opts.localContexts?.includes(ref)) {
      throw new TbuildError('TB_INVALID_ARGUMENT', `${ref} is a local named context (--build-context): FROM cannot start from a directory in tbuild (use COPY --from=${ref})`, { range, file: this.opts.file });
    }
    let record: ImageRecord | undefined;
    try {
      record = await this.images.get(ref, explicit ? platform : undefined);
    } catch (err) {
      throw withRange(err as Error, range, this.opts.file);
    }
    if (!record) {
      throw new TbuildError(
        'TB_IMAGE_NOT_FOUND',
        `${ref}: image not found in the local store (tbuild does not pull from registries; load it with \`tbuild load\`)`,
        { range, file: this.opts.file, details: { ref } },
      );
    }
    const has = platformOfConfig(record.config);
    if (has && !samePlatform(has, platform)) {
      if (explicit) {
        throw new TbuildError(
          'TB_PLATFORM_NOT_FOUND',
          `${ref}: the image found is ${formatPlatform(has)}, not the ${formatPlatform(platform)} this stage is built for (pull or import that platform's image)`,
          { range, file: this.opts.file, details: { ref, platform: formatPlatform(platform) } },
        );
      }
      this.opts.onWarning?.({
        rule: 'InvalidBaseImagePlatform',
        message: `Base image ${ref} was pulled with platform "${formatPlatform(has)}", expected "${formatPlatform(platform)}" for current build`,
        ...(range ? { range } : {}),
      });
    }
    const vertex = this.graph.add({ type: 'source', source: 'image', ref, imageId: record.id }, [], {
      name: stepName ?? `[internal] load image ${ref}`,
      stages: [],
    });
    const out = { vertex, record };
    this.#imageVertices.set(key, out);
    return out;
  }

  /** True when `name` is a local named context and no stage (stages come first, as in BuildKit). */
  isLocalContext(name: string): boolean {
    return Boolean(this.opts.localContexts?.includes(name)) && this.stageIndex(name) === undefined;
  }

  /** Stage index for a `--from` / `FROM` word naming a stage (by alias, case-insensitive, or index). */
  stageIndex(name: string): number | undefined {
    const lower = name.toLowerCase();
    for (const rs of this.resolved.stages) {
      if (rs.stage.name && rs.stage.name.toLowerCase() === lower) return rs.stage.index;
    }
    if (/^\d+$/.test(name) && Number(name) < this.resolved.stages.length) return Number(name);
    return undefined;
  }

  /** The filesystem a `--from=` names: a converted stage's last vertex or a local image. */
  async fromSource(name: string, current: number, range?: SourceRange): Promise<Digest> {
    if (this.isLocalContext(name)) {
      throw new TbuildError('TB_INVALID_ARGUMENT', `${name} is a local named context (--build-context): only COPY --from=${name} can read it in tbuild`, { range, file: this.opts.file });
    }
    const idx = this.stageIndex(name);
    if (idx !== undefined) {
      const st = this.stages.get(idx);
      if (!st || idx === current) {
        throw new TbuildError('TB_STAGE_CIRCULAR', `stage ${name} is not built before stage ${current} (circular reference)`, { range, file: this.opts.file });
      }
      return st.vertex;
    }
    const stage = this.stages.get(current);
    return (await this.imageSource(name, range, undefined, stage?.platform, stage?.platformExplicit)).vertex;
  }
}

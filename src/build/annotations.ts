import { TbuildError } from '../errors.js';
import { parsePlatform } from '../parser/checks/util.js';

/**
 * OCI annotations for the built image, BuildKit's way. Four places can carry one: the image
 * manifest (`manifest`, the default), the manifest's descriptor in an index (`manifest-descriptor`),
 * the index itself (`index`) and the index's descriptor in an OCI layout (`index-descriptor`). A
 * `manifest` annotation may be limited to one platform (`manifest[linux/amd64]`).
 */
export type AnnotationType = 'manifest' | 'manifest-descriptor' | 'index' | 'index-descriptor';

export interface Annotation {
  type: AnnotationType;
  /** `os/arch[/variant]` as written; absent = every platform. */
  platform?: string;
  key: string;
  value: string;
}

/** What a single-platform build can carry out: the manifest's own, and its descriptor's in an OCI layout. */
export interface ImageAnnotations {
  manifest: Record<string, string>;
  manifestDescriptor: Record<string, string>;
}

const TYPES: readonly string[] = ['manifest', 'manifest-descriptor', 'index', 'index-descriptor'];

function checkType(type: string, where: string): AnnotationType {
  if (!TYPES.includes(type)) throw new TbuildError('TB_INVALID_ARGUMENT', `${where}: unrecognized annotation type ${type} (manifest, manifest-descriptor, index, index-descriptor)`);
  return type as AnnotationType;
}

function checkKey(key: string, where: string): string {
  if (!key || /\s/.test(key)) throw new TbuildError('TB_INVALID_ARGUMENT', `${where}: an annotation needs a key without spaces`);
  return key;
}

/**
 * `--annotation [TYPE[,TYPE…]:]KEY=VALUE`, as `docker buildx build` reads it: `index,manifest:k=v`
 * sets one annotation in two places, `manifest[linux/amd64]:k=v` on one platform's manifest only.
 */
export function parseAnnotationFlag(spec: string): Annotation[] {
  const where = `--annotation ${spec}`;
  const eq = spec.indexOf('=');
  if (eq < 0) throw new TbuildError('TB_INVALID_ARGUMENT', `${where}: expected [TYPE:]KEY=VALUE`);
  const left = spec.slice(0, eq);
  const value = spec.slice(eq + 1);
  const typed = /^((?:[a-z-]+(?:\[[^\]]*\])?)(?:,[a-z-]+(?:\[[^\]]*\])?)*):(.*)$/.exec(left);
  if (!typed) return [{ type: 'manifest', key: checkKey(left, where), value }];
  const key = checkKey(typed[2]!, where);
  return typed[1]!.split(',').map((t) => {
    const m = /^([a-z-]+)(?:\[([^\]]*)\])?$/.exec(t)!;
    return { type: checkType(m[1]!, where), ...(m[2] !== undefined ? { platform: m[2] } : {}), key, value };
  });
}

/**
 * An exporter attribute as BuildKit names them (`annotation.KEY`, `annotation-TYPE.KEY`,
 * `annotation-TYPE[PLATFORM].KEY`, `annotation[PLATFORM].KEY`); undefined for any other attribute.
 */
export function parseAnnotationAttr(name: string, value: string): Annotation | undefined {
  const m = /^annotation(?:-([a-z-]+))?(?:\[([A-Za-z0-9_/-]+)\])?\.(\S+)$/.exec(name);
  if (!m) return undefined;
  return { type: checkType(m[1] ?? 'manifest', name), ...(m[2] !== undefined ? { platform: m[2] } : {}), key: m[3]!, value };
}

function samePlatform(spec: string, host: { os: string; architecture: string }): boolean {
  const p = parsePlatform(spec, { os: host.os, arch: host.architecture });
  return p !== undefined && p.os === host.os && p.arch === host.architecture && (p.variant === '' || p.variant === 'v1');
}

/** The outputs that write a manifest (and so can carry annotations and get names). */
export function writesManifest(o: { type: string }): boolean {
  return o.type === 'image' || o.type === 'docker' || o.type === 'oci';
}

/**
 * The annotations a build of one platform carries, checked before any step runs. As with BuildKit,
 * asking for a place the build does not produce is an error: a single-platform image has no index,
 * a Docker manifest (what `image`, `registry` and `docker` outputs write) no descriptor of its own,
 * and an annotation for another platform has no manifest to go on.
 */
export function resolveAnnotations(
  given: readonly Annotation[],
  host: { os: string; architecture: string },
  outputs: ReadonlyArray<{ type: string; annotations?: Annotation[] }>,
): ImageAnnotations {
  const out: ImageAnnotations = { manifest: {}, manifestDescriptor: {} };
  // only an OCI layout has a descriptor to write: given on another output it would be dropped
  for (const o of outputs) {
    const d = o.type === 'oci' ? undefined : o.annotations?.find((a) => a.type === 'manifest-descriptor');
    if (d) throw new TbuildError('TB_INVALID_ARGUMENT', `annotation manifest-descriptor:${d.key} on --output type=${o.type}: cannot export annotations with "oci-mediatypes=false" (only type=oci writes a manifest descriptor)`);
  }
  // tbuild makes one image per build: an annotation given on any output is the image's
  for (const a of [...given, ...outputs.flatMap((o) => o.annotations ?? [])]) {
    const where = `annotation ${a.type}${a.platform !== undefined ? `[${a.platform}]` : ''}:${a.key}`;
    if (a.type === 'index' || a.type === 'index-descriptor') {
      throw new TbuildError('TB_INVALID_ARGUMENT', `${where}: index annotations not supported for single platform export (tbuild builds one platform, so there is no index)`);
    }
    if (a.platform !== undefined && !samePlatform(a.platform, host)) {
      throw new TbuildError('TB_INVALID_ARGUMENT', `${where}: invalid annotation: no platform ${a.platform} found in source (this build is ${host.os}/${host.architecture})`);
    }
    if (a.type === 'manifest-descriptor' && !outputs.some((o) => o.type === 'oci')) {
      throw new TbuildError('TB_INVALID_ARGUMENT', `${where}: cannot export annotations with "oci-mediatypes=false": a manifest descriptor is only written by --output type=oci`);
    }
    (a.type === 'manifest' ? out.manifest : out.manifestDescriptor)[a.key] = a.value;
  }
  if (Object.keys(out.manifest).length && !outputs.some(writesManifest)) {
    throw new TbuildError('TB_INVALID_ARGUMENT', `annotations need an output with a manifest (image, registry, docker or oci); ${outputs.map((o) => `type=${o.type}`).join(', ')} writes files only`);
  }
  return out;
}

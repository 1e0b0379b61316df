import type { BuildOptions } from '../build/types.js';
import { TbuildError } from '../errors.js';
import { parseAnnotationAttr, type Annotation } from '../build/annotations.js';
import { parseEntitlement } from '../exec/security/entitlements.js';
import { parseGitSource } from '../worker/file/git-source.js';
import { isHttpSource } from '../worker/file/http-source.js';
import { checkAddHost } from '../network/ports.js';

/**
 * A Solve request's frontend attributes, exporters and entitlements as tbuild build options.
 * Anything tbuild would not carry out is refused by name: an attribute that is dropped would build
 * something other than what the user asked for.
 */

export interface ExporterRequest {
  type: string;
  attrs: Record<string, string>;
}

/** The build options a Solve asks for; the context and outputs are filled in once synced. */
export interface SolvePlan {
  options: Omit<BuildOptions, 'context' | 'outputs'>;
  /** Client directory names: the Dockerfile's and the context's. */
  dockerfileDir: string;
  contextDir: string;
  filename: string;
  /** Local named contexts: name → the client's directory name to sync. */
  localContexts: Record<string, string>;
  /** The build context is a git repository or tarball URL the daemon fetches (`docker buildx build URL`). */
  remoteContext?: string;
  /** Requests tbuild does not carry out but that are only ever sent by default, shown as build warnings. */
  warnings: string[];
}

function unsupported(what: string): never {
  throw new TbuildError('TB_BUILDKIT_UNSUPPORTED', `${what} is not supported by tbuild`);
}

/** Frontend attributes buildx sends that change nothing tbuild does (or that tbuild does by default). */
const NEUTRAL_ATTRS = new Set(['image-resolve-mode', 'contextsubdir', 'multi-platform', 'force-network-mode', 'call', 'requestid', 'cgroup-parent']);

export function planSolve(attrs: Record<string, string>, entitlements: readonly string[]): SolvePlan {
  const buildArgs: Record<string, string> = {};
  const labels: Record<string, string> = {};
  const options: SolvePlan['options'] = { buildArgs };
  const localContexts: Record<string, string> = {};
  const warnings: string[] = [];
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('build-arg:')) buildArgs[k.slice('build-arg:'.length)] = v;
    else if (k.startsWith('label:')) labels[k.slice('label:'.length)] = v;
    else if (k.startsWith('context:')) {
      const name = k.slice('context:'.length);
      // buildx sends a directory as `local:DIRNAME`, synced from its session like the context.
      if (v.startsWith('local:')) localContexts[name] = v.slice('local:'.length);
      else if (v.startsWith('docker-image://')) (options.namedContexts ??= {})[name] = v.slice('docker-image://'.length);
      // git repositories and tarball URLs are fetched by the daemon, as BuildKit's frontend does
      else if (parseGitSource(v) || isHttpSource(v)) (options.remoteContexts ??= {})[name] = v;
      else unsupported(`the named build context "${name}" of kind ${/^[a-z-]+:/.exec(v)?.[0] ?? v} (--build-context; docker-image://, git and HTTP(S) URLs and local directories are)`);
    }
    else if (k.startsWith('attest:')) {
      const kind = k.slice('attest:'.length);
      const params = v.split(',').filter(Boolean);
      if (params.includes('disabled=true')) continue;
      // buildx asks every non-docker builder for minimal provenance unless told not to: tbuild makes
      // no attestations, and says so in the build's output instead of failing every such build.
      if (kind === 'provenance' && params.every((p) => p === 'mode=min')) warnings.push('tbuild does not produce provenance attestations: the image has none (use --provenance=false to silence this)');
      else unsupported(`the ${kind} attestation${v ? ` (${v})` : ''}`);
    }
  }
  if (Object.keys(labels).length) options.labels = labels;
  const filename = attrs.filename || 'Dockerfile';
  if (attrs.target) options.target = attrs.target;
  if ('no-cache' in attrs) {
    if (attrs['no-cache'] === '') options.noCache = true;
    else options.noCacheFilter = attrs['no-cache']!.split(',').filter(Boolean);
  }
  if (attrs.platform) {
    // another CPU's platform builds under emulation, the worker says so by name when it has none;
    // several make a multi-platform build, whose outputs the engine checks
    options.platform = attrs.platform;
  }
  // Capabilities the client requires of the frontend: tbuild's Dockerfile frontend takes named contexts.
  for (const cap of (attrs['frontend.caps'] ?? '').split(',').filter(Boolean)) {
    if (!/^moby\.buildkit\.frontend\.contexts(\+forward)?$/.test(cap)) unsupported(`the frontend capability ${cap}`);
  }
  if (attrs['add-hosts']) {
    // buildx sends `name=ip` pairs, comma-separated.
    options.addHosts = attrs['add-hosts'].split(',').filter(Boolean).map((pair) => {
      const eq = pair.indexOf('=');
      if (eq <= 0) unsupported(`the add-hosts entry ${pair}`);
      return checkAddHost(`${pair.slice(0, eq)}:${pair.slice(eq + 1)}`);
    });
  }
  if (attrs['shm-size'] && attrs['shm-size'] !== '0') {
    if (!/^\d+$/.test(attrs['shm-size'])) unsupported(`--shm-size ${attrs['shm-size']}`);
    options.shmSize = Number(attrs['shm-size']);
  }
  // buildx sends `--ulimit` values comma-separated, each `name=soft:hard`
  if (attrs.ulimit) options.ulimits = attrs.ulimit.split(',').filter(Boolean);
  if (attrs['call'] && attrs['call'] !== 'build') unsupported(`--call ${attrs.call}`);
  if (attrs.requestid && attrs.requestid !== '') unsupported(`the frontend request ${attrs.requestid} (--print/--call)`);
  const mode = attrs['force-network-mode'];
  if (mode === 'none' || mode === 'host') options.network = mode;
  else if (mode && mode !== 'default' && mode !== 'sandbox') unsupported(`network mode ${mode}`);
  if (attrs['image-resolve-mode'] === 'pull') options.pull = true;
  if (attrs.contextsubdir) unsupported('a context sub-directory (contextsubdir)');
  if (attrs['cgroup-parent']) unsupported('--cgroup-parent for builds');
  for (const k of Object.keys(attrs)) {
    if (/^(build-arg|label|context|attest):/.test(k) || NEUTRAL_ATTRS.has(k)) continue;
    if (k === 'context' && (parseGitSource(attrs[k]!) || isHttpSource(attrs[k]!))) continue;
    if (k === 'context') unsupported(`the build context ${attrs[k]}`);
    if (['filename', 'target', 'no-cache', 'platform', 'add-hosts', 'shm-size', 'ulimit', 'dockerfilekey', 'contextkey', 'frontend.caps', 'cache-imports'].includes(k)) continue;
    unsupported(`the frontend attribute "${k}"`);
  }
  if (entitlements.length) options.allow = entitlements.map(parseEntitlement);
  const remote = attrs.context;
  return { options, filename, dockerfileDir: attrs.dockerfilekey || 'dockerfile', contextDir: attrs.contextkey || 'context', localContexts, warnings, ...(remote ? { remoteContext: remote } : {}) };
}

/** The `name=` of an image exporter: a comma-separated list, as BuildKit reads it. */
export function exporterNames(attrs: Record<string, string>): string[] {
  return (attrs.name ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

function truthy(v: string | undefined): boolean {
  return v === '' || v === 'true' || v === '1';
}

/** Exporter attributes tbuild carries out, per exporter; any other is refused by name. */
const KNOWN_ATTRS: Record<string, string[]> = {
  image: ['name', 'push', 'unpack', 'store', 'dangling-name-prefix', 'rewrite-timestamp'],
  moby: ['name', 'push', 'unpack', 'store', 'dangling-name-prefix', 'rewrite-timestamp'],
  docker: ['name', 'dest', 'rewrite-timestamp'],
  oci: ['name', 'dest', 'rewrite-timestamp'],
  tar: ['dest'],
  local: ['dest'],
};

export function checkExporter(e: ExporterRequest): void {
  const known = KNOWN_ATTRS[e.type];
  if (!known) unsupported(`the ${JSON.stringify(e.type)} exporter`);
  for (const [k, v] of Object.entries(e.attrs)) {
    if (MANIFEST_EXPORTERS.includes(e.type) && parseAnnotationAttr(k, v)) continue;
    if (!known!.includes(k)) unsupported(`the ${e.type} exporter's "${k}" option`);
    if ((k === 'unpack' || k === 'store') && !truthy(v) && v !== '') unsupported(`${k}=${v}`);
    // with SOURCE_DATE_EPOCH tbuild always clamps new layers' times: only the default can be asked for
    if (k === 'rewrite-timestamp' && !truthy(v)) unsupported(`${k}=${v} (tbuild always rewrites timestamps when SOURCE_DATE_EPOCH is set)`);
  }
  if (e.attrs.push !== undefined && e.attrs.push !== 'false' && !truthy(e.attrs.push)) unsupported(`push=${e.attrs.push}`);
}

/** The exporters that write a manifest, and so can carry annotations. */
const MANIFEST_EXPORTERS = ['image', 'moby', 'docker', 'oci'];

/** An exporter's `annotation*` attributes (BuildKit's keys; buildx turns `--annotation` into them). */
export function exporterAnnotations(e: ExporterRequest): { annotations?: Annotation[] } {
  if (!MANIFEST_EXPORTERS.includes(e.type)) return {};
  const list = Object.entries(e.attrs).flatMap(([k, v]) => parseAnnotationAttr(k, v) ?? []);
  return list.length ? { annotations: list } : {};
}

export function wantsPush(e: ExporterRequest): boolean {
  return e.attrs.push !== undefined && truthy(e.attrs.push);
}

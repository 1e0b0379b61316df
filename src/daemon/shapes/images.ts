import type { HistoryEntry, ImageRecord } from '../../exporter/types.js';
import { compareVersions } from '../version.js';
import { familiarName } from '../json-message.js';

export function imageSize(img: ImageRecord): number {
  return img.layers.reduce((a, l) => a + l.size, 0);
}

function unixSeconds(iso: string | undefined): number {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(t) ? 0 : Math.floor(t / 1000);
}

function repoTags(img: ImageRecord): string[] {
  return img.names.filter((n) => !n.includes('@')).map(familiarName);
}

function repoDigests(img: ImageRecord): string[] {
  return img.repoDigests.map(familiarName);
}

/** `GET /images/json` entry. */
export function imageSummary(img: ImageRecord, apiVersion: string): Record<string, unknown> {
  let tags = repoTags(img);
  let digests = repoDigests(img);
  const old = compareVersions(apiVersion, '1.44') < 0;
  if (old && tags.length === 0 && digests.length === 0) {
    tags = ['<none>:<none>'];
    digests = ['<none>@<none>'];
  }
  const size = imageSize(img);
  const out: Record<string, unknown> = {
    Id: img.id,
    ParentId: '',
    RepoTags: tags,
    RepoDigests: digests,
    Created: unixSeconds(img.config.created ?? img.created),
    Size: size,
    SharedSize: -1,
    Labels: img.config.config.Labels ?? {},
    Containers: -1,
  };
  if (old) out.VirtualSize = size;
  return out;
}

/** `GET /images/{name}/json`. */
export function imageInspect(img: ImageRecord, apiVersion: string): Record<string, unknown> {
  const cfg = img.config.config;
  const size = imageSize(img);
  const out: Record<string, unknown> = {
    Id: img.id,
    RepoTags: repoTags(img),
    RepoDigests: repoDigests(img),
    Parent: '',
    Comment: img.config.history?.at(-1)?.comment ?? '',
    Created: img.config.created ?? img.created,
    DockerVersion: '',
    Author: img.config.author ?? '',
    Config: {
      Hostname: '',
      Domainname: '',
      User: cfg.User ?? '',
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      ExposedPorts: cfg.ExposedPorts,
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: cfg.Env ?? null,
      Cmd: cfg.Cmd ?? null,
      Image: '',
      Volumes: cfg.Volumes ?? null,
      WorkingDir: cfg.WorkingDir ?? '',
      Entrypoint: cfg.Entrypoint ?? null,
      OnBuild: cfg.OnBuild ?? null,
      Labels: cfg.Labels ?? null,
      StopSignal: cfg.StopSignal,
      Healthcheck: cfg.Healthcheck,
      Shell: cfg.Shell,
      ArgsEscaped: cfg.ArgsEscaped,
    },
    Architecture: img.config.architecture,
    Os: img.config.os,
    Size: size,
    GraphDriver: { Name: 'overlay2', Data: null },
    RootFS: { Type: 'layers', Layers: img.config.rootfs.diff_ids },
    Metadata: { LastTagTime: img.created },
  };
  if (img.config.variant) out.Variant = img.config.variant;
  if (compareVersions(apiVersion, '1.44') < 0) out.VirtualSize = size;
  return out;
}

/** `GET /images/{name}/history`: newest first; only the top entry carries the id and tags. */
export function imageHistory(img: ImageRecord): Array<Record<string, unknown>> {
  const history: HistoryEntry[] = img.config.history ?? img.layers.map(() => ({ empty_layer: false }));
  let layer = 0;
  const rows = history.map((h) => {
    const size = h.empty_layer ? 0 : (img.layers[layer++]?.size ?? 0);
    return {
      Id: '<missing>',
      Created: unixSeconds(h.created),
      CreatedBy: h.created_by ?? '',
      Tags: null as string[] | null,
      Size: size,
      Comment: h.comment ?? '',
    };
  });
  rows.reverse();
  if (rows[0]) {
    rows[0].Id = img.id;
    rows[0].Tags = repoTags(img);
  }
  return rows;
}

/** Glob (`*`, `?`) match, as Docker's reference filter uses path.Match. */
export function globMatch(pattern: string, text: string): boolean {
  const re = pattern.replace(/[.+^$()|[\]{}\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${re}$`).test(text);
}

/** Docker's `reference` filter: a glob over familiar `name:tag`, or over the name alone when it has no tag. */
export function matchesReference(img: ImageRecord, pattern: string): boolean {
  return img.names.some((n) => {
    const f = familiarName(n);
    if (globMatch(pattern, f)) return true;
    const colon = f.lastIndexOf(':');
    const repo = colon > f.lastIndexOf('/') ? f.slice(0, colon) : f;
    return globMatch(pattern, repo);
  });
}

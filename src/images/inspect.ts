import type { GraphDriverDirs, HistoryEntry, ImageRecord } from './types.js';

export type { GraphDriverDirs } from './types.js';
import { familiarName } from './reference.js';
import { unixSeconds, ZERO_TIME } from '../util/time.js';

export { shortId } from '../util/digest.js';

/**
 * Docker Engine API shapes for images (GET /images/json, /images/{name}/json, /images/{name}/history),
 * shared by the CLI and the daemon.
 */

export function imageSize(img: ImageRecord): number {
  return img.layers.reduce((n, l) => n + (l.contentSize ?? l.size), 0);
}

function createdOf(img: ImageRecord): string {
  return img.config.created ?? ZERO_TIME;
}

/** Familiar `name:tag` of every tag (digest references are not tags). */
export function repoTags(img: ImageRecord): string[] {
  return img.names.filter((n) => !n.includes('@')).map((n) => familiarName(n));
}

function repoDigests(img: ImageRecord): string[] {
  return img.repoDigests.map((n) => familiarName(n));
}


/** `docker image inspect` (one element of its array). */
export function imageInspect(img: ImageRecord, dirs: GraphDriverDirs = {}): Record<string, unknown> {
  const c = img.config.config ?? {};
  const config: Record<string, unknown> = {
    Hostname: '',
    Domainname: '',
    User: c.User ?? '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    ...(c.ExposedPorts ? { ExposedPorts: c.ExposedPorts } : {}),
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: c.Env ?? null,
    Cmd: c.Cmd ?? null,
    ...(c.Healthcheck ? { Healthcheck: c.Healthcheck } : {}),
    ...(c.ArgsEscaped !== undefined ? { ArgsEscaped: c.ArgsEscaped } : {}),
    Image: '',
    Volumes: c.Volumes ?? null,
    WorkingDir: c.WorkingDir ?? '',
    Entrypoint: c.Entrypoint ?? null,
    OnBuild: c.OnBuild ?? null,
    Labels: c.Labels ?? null,
    ...(c.StopSignal ? { StopSignal: c.StopSignal } : {}),
    ...(c.Shell ? { Shell: c.Shell } : {}),
  };
  const graphData: Record<string, string> = {};
  if (dirs.lower?.length) graphData.LowerDir = dirs.lower.join(':');
  if (dirs.upper) {
    graphData.UpperDir = dirs.upper;
    graphData.MergedDir = dirs.upper.replace(/\/[^/]*$/, '/merged');
    graphData.WorkDir = dirs.upper.replace(/\/[^/]*$/, '/work');
  }
  return {
    Id: img.id,
    RepoTags: repoTags(img),
    RepoDigests: repoDigests(img),
    Parent: '',
    // Docker's image Comment is the config's top-level `comment` (set by commit/import -m), else
    // the newest history entry's (dockerd 26 shows an imported image's "imported from tarball")
    Comment: img.config.comment || (img.config.history?.at(-1)?.comment ?? ''),
    Created: createdOf(img),
    DockerVersion: '',
    Author: img.config.author ?? '',
    Config: config,
    Architecture: img.config.architecture,
    ...(img.config.variant ? { Variant: img.config.variant } : {}),
    Os: img.config.os,
    Size: imageSize(img),
    GraphDriver: { Data: graphData, Name: 'overlay2' },
    RootFS: { Type: 'layers', Layers: img.config.rootfs.diff_ids },
    Metadata: { LastTagTime: img.names.length ? img.created : ZERO_TIME },
  };
}

/** Bytes of `img`'s layers that another image of `all` has too (Docker's SharedSize). */
export function sharedSize(img: ImageRecord, all: ImageRecord[]): number {
  let size = 0;
  for (const l of img.layers) {
    if (all.some((o) => o.id !== img.id && o.layers.some((x) => x.diffId === l.diffId))) size += l.contentSize ?? l.size;
  }
  return size;
}

/** One row of GET /images/json. */
export function imageSummary(img: ImageRecord, containers = -1): Record<string, unknown> {
  const size = imageSize(img);
  return {
    Containers: containers,
    Created: unixSeconds(img.config.created),
    Id: img.id,
    Labels: img.config.config?.Labels ?? null,
    ParentId: '',
    RepoDigests: repoDigests(img),
    RepoTags: repoTags(img),
    SharedSize: -1,
    Size: size,
  };
}

export interface HistoryRow {
  Id: string;
  /** Unix seconds. */
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

/**
 * `docker history` rows, newest first. History entries without `empty_layer` consume the layers
 * bottom-up; only the top row carries the image id (intermediate images are not kept: `<missing>`).
 */
export function imageHistory(img: ImageRecord): HistoryRow[] {
  const rows: HistoryRow[] = [];
  let layer = 0;
  const history: HistoryEntry[] = img.config.history?.length
    ? img.config.history
    : img.layers.map(() => ({ created: img.config.created, created_by: '', empty_layer: false }));
  for (const h of history) {
    const l = h.empty_layer ? undefined : img.layers[layer++];
    const size = l ? (l.contentSize ?? l.size) : 0;
    rows.push({
      Id: '<missing>',
      Created: unixSeconds(h.created),
      CreatedBy: h.created_by ?? '',
      Tags: null,
      Size: size,
      Comment: h.comment ?? '',
    });
  }
  rows.reverse();
  if (rows[0]) {
    rows[0].Id = img.id;
    const tags = repoTags(img);
    rows[0].Tags = tags.length ? tags : null;
  }
  return rows;
}

import { TbuildError } from '../errors.js';
import { MEDIA_TYPES } from '../images/manifest.js';
import type { Descriptor, Platform } from './types.js';

/** Media types the client reads and writes: the image store's, plus the foreign-layer kind only registries carry. */
export const MT = {
  ...MEDIA_TYPES,
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

export const MANIFEST_ACCEPT = [MT.dockerManifest, MT.dockerManifestList, MT.ociManifest, MT.ociIndex].join(', ');

/** Manifests larger than this are refused (as containerd and Docker do). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export const INDEX_TYPES: ReadonlySet<string> = new Set([MT.dockerManifestList, MT.ociIndex]);
export const MANIFEST_TYPES: ReadonlySet<string> = new Set([MT.dockerManifest, MT.ociManifest]);
export const LAYER_TYPES: ReadonlySet<string> = new Set([
  MT.dockerLayerGzip, MT.dockerLayer, MT.ociLayer, MT.ociLayerGzip, MT.ociLayerZstd,
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', MT.dockerForeignLayerGzip,
]);

export interface ImageManifest {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
}

import { formatPlatform } from '../util/platform.js';
export { parsePlatform, formatPlatform } from '../util/platform.js';

/** The platform of this machine, as Docker names it. */
export function hostPlatform(): Platform {
  const arch = ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[process.arch] ?? process.arch;
  return { os: 'linux', architecture: arch, ...(arch === 'arm64' ? { variant: 'v8' } : {}) };
}

/** arm64's variant defaults to v8; other variants must match when asked for. */
/** Whether `have` is `want` (a `want` without variant takes any; arm64 without one is v8). */
export function platformMatches(want: Platform, have: Platform | undefined): boolean {
  if (!have || have.os !== want.os || have.architecture !== want.architecture) return false;
  if (!want.variant) return true;
  const v = have.variant ?? (have.architecture === 'arm64' ? 'v8' : undefined);
  return v === want.variant;
}

/** The manifest of `index` for `want`, or TB_PLATFORM_NOT_FOUND listing what the index has. */
export function selectPlatform(index: ImageIndex, want: Platform, name: string): Descriptor {
  const manifests = index.manifests.filter((m) => MANIFEST_TYPES.has(m.mediaType) || m.mediaType === undefined);
  const found = manifests.find((m) => platformMatches(want, m.platform));
  if (found) return found;
  const have = [...new Set(manifests.filter((m) => m.platform && m.platform.architecture !== 'unknown').map((m) => formatPlatform(m.platform!)))];
  throw new TbuildError(
    'TB_PLATFORM_NOT_FOUND',
    `no matching manifest for ${formatPlatform(want)} in the manifest list entries of ${name} (it has: ${have.join(', ') || 'none'})`,
  );
}

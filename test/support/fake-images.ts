import type { ImageRecord, ImageStore } from '../../src/images/types.js';
import { digestOf, sha256 } from '../../src/util/digest.js';

/** An in-memory image lookup holding one busybox-like image, for converting without disk. */
export function fakeImages(): Pick<ImageStore, 'get'> {
  const config = {
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers' as const, diff_ids: [sha256('layer')] },
    history: [{ created_by: 'base' }],
  };
  const record: ImageRecord = {
    id: digestOf(config),
    config,
    layers: [{ diffId: sha256('layer'), size: 1, snapshot: 'base' }],
    names: ['docker.io/library/busybox:local'],
    repoDigests: [],
    created: new Date(0).toISOString(),
  };
  return { get: async (ref: string) => (ref === 'busybox:local' || ref === record.id ? record : undefined) };
}

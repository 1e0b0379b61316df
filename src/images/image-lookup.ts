import { TbuildError } from '../errors.js';
import type { Digest } from '../util/digest.js';
import { formatReference, repositoryName, tryParseReference } from './reference.js';
import type { ImageFiles, Repositories, StoredRecord } from './image-records.js';

/** How a reference found its image: by id (full or short) or by one of its names. */
export type Resolution = { record: StoredRecord; via: 'id' | 'name'; name?: string };

const SHORT_ID_RE = /^(?:sha256:)?([a-f0-9]{1,64})$/;

/**
 * Resolve `ref` the way Docker does: a full id first, then a name (tag, defaulting to `latest`,
 * or repo digest), then an unambiguous id prefix. A name wins over a prefix that looks like hex.
 */
export async function findImage(files: ImageFiles, ref: string, repos: Repositories): Promise<Resolution | undefined> {
  const full = /^(?:sha256:)?([a-f0-9]{64})$/.exec(ref);
  if (full) {
    const record = await files.readRecord(`sha256:${full[1]}` as Digest);
    return record && { record, via: 'id' };
  }
  const parsed = tryParseReference(ref);
  if (parsed) {
    if (parsed.digest !== undefined) {
      const want = `${repositoryName(parsed)}@${parsed.digest}`;
      for (const record of await files.allRecords()) {
        if (record.repoDigests.includes(want)) return { record, via: 'name', name: want };
      }
    } else {
      const name = formatReference({ ...parsed, tag: parsed.tag ?? 'latest' });
      const id = repos.tags[name];
      const record = id && (await files.readRecord(id));
      if (record) return { record, via: 'name', name };
    }
  }
  const short = SHORT_ID_RE.exec(ref);
  if (short) {
    const hex = short[1]!;
    const found = await files.recordFilesWithPrefix(hex);
    if (found.length > 1) {
      throw new TbuildError('TB_IMAGE_AMBIGUOUS', `multiple IDs found with provided prefix: ${hex}`);
    }
    if (found.length === 1) {
      const record = await files.readRecord(`sha256:${found[0]!.slice(0, 64)}` as Digest);
      if (record) return { record, via: 'id' };
    }
  }
  return undefined;
}

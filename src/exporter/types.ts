import type { ImageRecord } from '../images/types.js';
import type { VertexResult } from '../solver/result.js';

/** What every exporter receives: the stored image and the solved result it was made from. */
export interface ExportInput {
  record: ImageRecord;
  result: VertexResult;
  /** The name archives record for the image (first tag or output name; else the id). */
  name: string;
  /** The build's `-t` names. */
  tags: string[];
  /** `manifest-descriptor` annotations, for the outputs that write an index (type=oci). */
  descriptorAnnotations?: Record<string, string>;
}

/** One `--output`: writes the build's result somewhere. */
export interface Exporter {
  export(input: ExportInput): Promise<void>;
}

/**
 * Where a file-like output goes: a path (written atomically), or a stream the caller owns (the CLI's
 * stdout for `dest=-`, a daemon response), which the exporter writes to but never ends.
 */
export type Destination = { path: string } | { stream: NodeJS.WritableStream };

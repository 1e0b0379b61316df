import { create, toBinary } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { TbuildError } from '../errors.js';
import { StatusSchema } from './gen/google/rpc/status_pb.js';

/** Where a failed build failed, for the error details buildx renders (the step's logs, the Dockerfile excerpt). */
export interface FailureSite {
  vertex?: string;
  dockerfile?: { name: string; data: Uint8Array };
}

function codeOf(err: unknown): Code {
  if (!(err instanceof TbuildError)) return Code.Unknown;
  if (err.code === 'TB_BUILDKIT_UNSUPPORTED' || err.code === 'TB_NOT_IMPLEMENTED') return Code.Unimplemented;
  if (err.code === 'TB_ENTITLEMENT_DENIED') return Code.PermissionDenied;
  if (err.status === 404) return Code.NotFound;
  if (err.status === 400) return Code.InvalidArgument;
  if (err.status === 409) return Code.FailedPrecondition;
  return Code.Unknown;
}

/**
 * BuildKit's typed error details travel as JSON under its own type URLs (`…/errdefs.Source+json`),
 * which is what its clients look up; connect would prefix any detail it packs with
 * `type.googleapis.com/`, so the status details trailer is encoded here instead.
 */
function detailsTrailer(code: Code, message: string, details: { url: string; json: unknown }[]): string {
  const status = create(StatusSchema, {
    code,
    message,
    details: details.map((d) => ({ typeUrl: d.url, value: new TextEncoder().encode(JSON.stringify(d.json)) })),
  });
  return Buffer.from(toBinary(StatusSchema, status)).toString('base64').replace(/=+$/, '');
}

/**
 * A tbuild error as a gRPC status with BuildKit's error details: the failing vertex (buildx prints
 * its last log lines) and the Dockerfile range (buildx prints the excerpt with the failing line).
 */
export function toConnectError(err: unknown, site: FailureSite = {}): ConnectError {
  if (err instanceof ConnectError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const code = codeOf(err);
  const details: { url: string; json: unknown }[] = [];
  if (site.vertex) details.push({ url: 'github.com/moby/buildkit/errdefs.Vertex+json', json: { digest: site.vertex } });
  const range = err instanceof TbuildError ? err.range : undefined;
  if (range && site.dockerfile) {
    details.push({
      url: 'github.com/moby/buildkit/errdefs.Source+json',
      json: {
        info: { filename: site.dockerfile.name, data: Buffer.from(site.dockerfile.data).toString('base64'), language: 'Dockerfile' },
        ranges: [{ start: { line: range.startLine, character: range.startCol ?? 0 }, end: { line: range.endLine, character: range.endCol ?? 0 } }],
      },
    });
  }
  const metadata = details.length ? { 'grpc-status-details-bin': detailsTrailer(code, message, details) } : undefined;
  return new ConnectError(message, code, metadata, undefined, err);
}

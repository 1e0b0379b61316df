import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import type { HandlerContext } from '@connectrpc/connect';
import {
  type BuildHistoryEvent,
  BuildHistoryEventSchema,
  BuildHistoryEventType,
  type BuildHistoryRecord,
  BuildHistoryRecordSchema,
  type BuildHistoryRequest,
  ExporterSchema,
  type UpdateBuildHistoryRequest,
} from './gen/github.com/moby/buildkit/api/services/control/control_pb.js';
import { StatusSchema } from './gen/google/rpc/status_pb.js';
import { Channel } from './channel.js';
import type { BuildRecord, BuildRecords } from '../records/types.js';

/**
 * BuildKit's build history (`ListenBuildHistory`, `UpdateBuildHistory`) from tbuild's build
 * records: every build of the root (CLI, library, `/build`, buildx) is in it, known by buildx's
 * Solve ref when buildx ran it and by its record id otherwise. Live events cover the builds and
 * removals of this daemon; an embedded CLI's build on the same root shows up at the next listing.
 */

/** BuildKit's record of one of ours. */
export function historyRecord(r: BuildRecord): BuildHistoryRecord {
  const attrs: Record<string, string> = { filename: r.dockerfile.name };
  if (r.target) attrs.target = r.target;
  for (const [k, v] of Object.entries(r.args)) attrs[`build-arg:${k}`] = v;
  const response: Record<string, string> = {};
  if (r.result) {
    response['containerimage.digest'] = r.result.digest;
    response['containerimage.config.digest'] = r.result.imageId;
    if (r.tags.length) response['image.name'] = r.tags.join(',');
  }
  const ended = r.endedAt ? Date.parse(r.endedAt) : undefined;
  return create(BuildHistoryRecordSchema, {
    Ref: r.ref ?? r.id,
    Frontend: 'dockerfile.v0',
    FrontendAttrs: attrs,
    Exporters: [create(ExporterSchema, { Type: 'image', Attrs: r.tags.length ? { name: r.tags.join(',') } : {} })],
    // google.rpc.Code UNKNOWN: a failed build's error carries no finer code
    ...(r.status === 'failed' ? { error: create(StatusSchema, { code: 2, message: r.error ?? 'build failed' }) } : {}),
    CreatedAt: timestampFromMs(Date.parse(r.startedAt)),
    ...(ended !== undefined ? { CompletedAt: timestampFromMs(ended) } : {}),
    ExporterResponse: response,
    numTotalSteps: r.steps.length,
    numCachedSteps: r.steps.filter((s) => s.cached).length,
    numCompletedSteps: r.steps.filter((s) => s.completedAt !== undefined).length,
    numWarnings: r.warnings ?? 0,
  });
}

const event = (type: BuildHistoryEventType, record: BuildHistoryRecord): BuildHistoryEvent => create(BuildHistoryEventSchema, { type, record });

/** The records the client asked about, newest first: by ref (buildx's or our id), running only, at most `Limit`. */
async function matching(records: BuildRecords, want: { ref?: string; activeOnly?: boolean; limit?: number }): Promise<BuildRecord[]> {
  const out: BuildRecord[] = [];
  for (const s of await records.list()) {
    if (want.activeOnly && s.status !== 'running') continue;
    const r = await records.get(s.id).catch(() => undefined);
    if (!r || (want.ref && r.ref !== want.ref && r.id !== want.ref)) continue;
    out.push(r);
    if (want.limit && out.length >= want.limit) break;
  }
  return out;
}

export async function* listenBuildHistory(records: BuildRecords, req: BuildHistoryRequest, ctx: HandlerContext): AsyncGenerator<BuildHistoryEvent> {
  const filters = req.Filter.filter(Boolean);
  if (filters.length) throw new ConnectError(`build history filters (${filters.join(', ')}) are not supported by tbuild`, Code.Unimplemented);
  if (req.Limit < 0) throw new ConnectError(`limit ${req.Limit}: want 0 or more`, Code.InvalidArgument);
  // Subscribed before listing, so nothing that happens meanwhile is missed.
  const live = new Channel<BuildHistoryEvent>();
  const seen = new Map<string, string>(); // record id → the ref the client knows it by
  // one event after another: a quick build's COMPLETE must not overtake its STARTED
  let order = Promise.resolve();
  const unwatch = req.EarlyExit
    ? () => {}
    : records.watch((e) => {
        order = order.then(async () => {
          if (e.type === 'deleted') {
            const ref = seen.get(e.id) ?? e.id;
            if (!req.Ref || ref === req.Ref) live.push(event(BuildHistoryEventType.DELETED, create(BuildHistoryRecordSchema, { Ref: ref })));
            return;
          }
          const r = await records.get(e.id).catch(() => undefined);
          if (!r || (req.Ref && r.ref !== req.Ref && r.id !== req.Ref)) return;
          if (req.ActiveOnly && e.type === 'completed') return;
          seen.set(r.id, r.ref ?? r.id);
          live.push(event(e.type === 'started' ? BuildHistoryEventType.STARTED : BuildHistoryEventType.COMPLETE, historyRecord(r)));
        }).catch(() => {});
      });
  const onAbort = () => live.close();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    // oldest first, as BuildKit replays its history
    for (const r of (await matching(records, { ref: req.Ref, activeOnly: req.ActiveOnly, limit: req.Limit })).reverse()) {
      seen.set(r.id, r.ref ?? r.id);
      yield event(r.status === 'running' ? BuildHistoryEventType.STARTED : BuildHistoryEventType.COMPLETE, historyRecord(r));
    }
    if (req.EarlyExit) return;
    yield* live;
  } finally {
    unwatch();
    ctx.signal.removeEventListener('abort', onAbort);
    live.close();
  }
}

/**
 * `Delete` removes the record; `Finalize` asks for a finished record's trace and logs to be made
 * final, which ours are as soon as the build ends. Pinning (exempt from retention) is refused.
 */
export async function updateBuildHistory(records: BuildRecords, req: UpdateBuildHistoryRequest): Promise<Record<string, never>> {
  if (req.Pinned) throw new ConnectError('pinning build records is not supported by tbuild', Code.Unimplemented);
  if (!req.Ref) throw new ConnectError('a build record ref is required', Code.InvalidArgument);
  const found = (await matching(records, { ref: req.Ref, limit: 1 }))[0];
  if (!found) throw new ConnectError(`no build record ${JSON.stringify(req.Ref)}`, Code.NotFound);
  if (req.Finalize && found.status === 'running') throw new ConnectError(`build ${req.Ref} is still running`, Code.FailedPrecondition);
  if (req.Delete) await records.remove(found.id);
  return {};
}

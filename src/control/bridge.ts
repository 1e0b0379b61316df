import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import type { BuildJobs } from './build-jobs.js';
import { toConnectError } from './errors.js';
import type { WorkerRecord } from './gen/github.com/moby/buildkit/api/types/worker_pb.js';
import { LLBBridge, type ReturnRequest, type SolveRequest as BridgeSolveRequest, RefSchema, ResultSchema } from './gen/github.com/moby/buildkit/frontend/gateway/pb/gateway_pb.js';
import { APICapSchema } from './gen/github.com/moby/buildkit/util/apicaps/pb/caps_pb.js';

/**
 * The gateway bridge (`moby.buildkit.v1.frontend.LLBBridge`) as far as buildx uses it for a
 * Dockerfile build: it pings for capabilities, asks for a `dockerfile.v0` solve and returns the
 * result, all tagged with the Solve's ref in `buildkit-controlapi-buildid`. Everything else a
 * client frontend could ask (LLB definitions, file reads, containers) is refused by name.
 */

/** Framework capabilities tbuild's bridge implements; a client checks these before relying on them. */
const FRAMEWORK_CAPS = ['solve.base', 'return', 'proto.refarray', 'gateway.warnings'];

const BUILD_ID_HEADER = 'buildkit-controlapi-buildid';
const GATEWAY_WAIT_MS = 10_000;

function unsupported(what: string): never {
  throw new ConnectError(`${what} is not supported by tbuild's frontend bridge`, Code.Unimplemented);
}

export function bridgeService(jobs: BuildJobs, workers: () => Promise<WorkerRecord[]>): Partial<ServiceImpl<typeof LLBBridge>> {
  const jobOf = (ctx: HandlerContext) => {
    const id = ctx.requestHeader.get(BUILD_ID_HEADER);
    if (!id) throw new ConnectError(`a frontend call needs the ${BUILD_ID_HEADER} header`, Code.InvalidArgument);
    const job = jobs.find(id);
    if (!job) throw new ConnectError(`no build with ref ${id}`, Code.NotFound);
    return job;
  };
  return {
    ping: async () => ({
      FrontendAPICaps: FRAMEWORK_CAPS.map((ID) => create(APICapSchema, { ID, Enabled: true })),
      LLBCaps: [],
      Workers: await workers(),
    }),
    solve: async (req: BridgeSolveRequest, ctx: HandlerContext) => {
      if (req.Definition && req.Definition.def.length) unsupported('solving an LLB definition');
      if (req.Frontend !== 'dockerfile.v0') unsupported(`the frontend ${JSON.stringify(req.Frontend)}`);
      if (Object.keys(req.FrontendInputs).length) unsupported('frontend inputs');
      // buildx repeats the Control Solve's cache imports here; those are carried out by the build
      if (req.CacheImports.length && !jobOf(ctx).cacheImports) unsupported(`cache imports given only to the frontend (${req.CacheImports.map((c) => c.Type).join(', ')})`);
      if (req.SourcePolicies.length) unsupported('source policies');
      if (req.Evaluate) unsupported('evaluate-only solves');
      const gateway = await jobOf(ctx).waitGateway(GATEWAY_WAIT_MS);
      try {
        const id = await gateway.solve({ ...req.FrontendOpt });
        return { result: create(ResultSchema, { result: { case: 'ref', value: create(RefSchema, { id }) } }) };
      } catch (err) {
        throw toConnectError(err);
      }
    },
    return: async (req: ReturnRequest, ctx: HandlerContext) => {
      const gateway = await jobOf(ctx).waitGateway(GATEWAY_WAIT_MS);
      if (req.error && req.error.code !== 0) gateway.returned({ error: req.error.message });
      else {
        const r = req.result?.result;
        if (r?.case === 'refs') unsupported('returning several results (multi-platform)');
        gateway.returned({ ...(r?.case === 'ref' ? { ref: r.value.id } : r?.case === 'refDeprecated' ? { ref: r.value } : {}) });
      }
      return {};
    },
    inputs: async () => ({ Definitions: {} }),
    warn: async (req: { short: Uint8Array }, ctx: HandlerContext) => {
      jobOf(ctx).progress({ type: 'warning', message: new TextDecoder().decode(req.short) });
      return {};
    },
  };
}

import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import type { AddressInfo } from 'node:net';
import { fromBinary } from '@bufbuild/protobuf';
import type { ConnectRouter } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { ExportTraceServiceRequestSchema, TraceService, type ExportTraceServiceRequest } from './gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import type { AnyValue } from './gen/opentelemetry/proto/common/v1/common_pb.js';

/** One span as a receiver keeps it: ids in hex, times in nanoseconds as strings, as OTLP/JSON has them. */
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  status?: { code?: number; message?: string };
  attributes?: Array<{ key: string; value: Record<string, unknown> }>;
  /** From the resource that sent it. */
  service?: string;
  /** How it arrived: `grpc`, `http/protobuf` or `http/json`. */
  protocol: string;
}

/**
 * An OTLP trace receiver taking all three of the protocol's encodings, on two ports as the
 * OpenTelemetry collector does: gRPC `TraceService/Export` over cleartext HTTP/2 (its 4317), and
 * `POST /v1/traces` with protobuf or JSON bodies over HTTP/1.1 (its 4318). The protobuf messages
 * are decoded with code generated from OpenTelemetry's own `.proto` files (`proto/opentelemetry`),
 * so a span the exporter encodes wrongly fails here rather than being read back by the code that
 * wrote it.
 */
export async function startOtlpReceiver(): Promise<{ grpc: string; http: string; spans: OtlpSpan[]; close(): Promise<void> }> {
  const spans: OtlpSpan[] = [];
  const grpc = http2.createServer(
    connectNodeAdapter({
      routes: (router: ConnectRouter) => {
        router.service(TraceService, {
          export(req) {
            spans.push(...fromProto(req, 'grpc'));
            return {};
          },
        });
      },
      grpc: true,
      grpcWeb: false,
      connect: false,
    }),
  );
  const sessions = new Set<http2.ServerHttp2Session>();
  grpc.on('session', (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  const http1 = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const type = String(req.headers['content-type']);
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
      } else if (type.startsWith('application/x-protobuf')) {
        spans.push(...fromProto(fromBinary(ExportTraceServiceRequestSchema, Buffer.concat(chunks)), 'http/protobuf'));
        res.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end();
      } else if (type.startsWith('application/json')) {
        spans.push(...fromJson(JSON.parse(Buffer.concat(chunks).toString()) as OtlpJson));
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      } else {
        res.writeHead(415).end();
      }
    });
  });
  const listen = async (server: net.Server): Promise<string> => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  return {
    grpc: await listen(grpc),
    http: await listen(http1),
    spans,
    close: async () => {
      for (const s of sessions) s.destroy();
      http1.closeAllConnections();
      await Promise.all([grpc, http1].map((s) => new Promise((r) => s.close(r))));
    },
  };
}

export const attr = (s: OtlpSpan, key: string): unknown => {
  const v = s.attributes?.find((a) => a.key === key)?.value;
  return v ? Object.values(v)[0] : undefined;
};

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The one field an attribute's value sets, keyed as OTLP/JSON keys it. */
function anyValue(v: AnyValue | undefined): Record<string, unknown> {
  const c = v?.value;
  if (!c?.case) return {};
  return { [c.case]: typeof c.value === 'bigint' ? String(c.value) : c.value };
}

function fromProto(req: ExportTraceServiceRequest, protocol: string): OtlpSpan[] {
  const out: OtlpSpan[] = [];
  for (const rs of req.resourceSpans) {
    const service = rs.resource?.attributes.find((a) => a.key === 'service.name')?.value?.value;
    for (const ss of rs.scopeSpans) {
      for (const s of ss.spans) {
        out.push({
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          ...(s.parentSpanId.length ? { parentSpanId: hex(s.parentSpanId) } : {}),
          name: s.name,
          startTimeUnixNano: String(s.startTimeUnixNano),
          endTimeUnixNano: String(s.endTimeUnixNano),
          ...(s.status ? { status: { code: s.status.code, message: s.status.message } } : {}),
          attributes: s.attributes.map((a) => ({ key: a.key, value: anyValue(a.value) })),
          ...(service?.case === 'stringValue' ? { service: service.value } : {}),
          protocol,
        });
      }
    }
  }
  return out;
}

interface OtlpJson {
  resourceSpans: Array<{ resource?: { attributes?: OtlpSpan['attributes'] }; scopeSpans: Array<{ spans: Array<Omit<OtlpSpan, 'protocol'>> }> }>;
}

function fromJson(body: OtlpJson): OtlpSpan[] {
  const out: OtlpSpan[] = [];
  for (const rs of body.resourceSpans) {
    const service = rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue as string | undefined;
    for (const ss of rs.scopeSpans) for (const s of ss.spans) out.push({ ...s, ...(service ? { service } : {}), protocol: 'http/json' });
  }
  return out;
}

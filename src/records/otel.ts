import { ROOT_CONTEXT, SpanStatusCode, trace, type Context, type Tracer } from '@opentelemetry/api';
import { parseTraceParent } from '@opentelemetry/core';
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { BuildTrace } from './trace.js';
import type { OtlpProtocol } from './types.js';

/**
 * A build's spans sent to an OpenTelemetry collector, as BuildKit sends its own when
 * `OTEL_EXPORTER_OTLP_ENDPOINT` is set: one span for the build, one per step under it, and the
 * step's phases (snapshot prepare, runtime setup, the process, diff, commit) under each step.
 * The SDK's exporter for the protocol reads the rest of its settings (`…_TRACES_ENDPOINT`,
 * `…_HEADERS`, `…_INSECURE`, `…_CERTIFICATE`, `…_COMPRESSION`) itself. A W3C `traceparent`
 * (buildx's gRPC metadata, `$TRACEPARENT`) puts the build inside its caller's trace.
 */
export class OtelBuildExporter {
  readonly #provider: BasicTracerProvider;
  readonly #tracer: Tracer;
  readonly #exporter: WatchedExporter;
  readonly #waitMs: number;

  /**
   * `timeoutMs`: how long one build waits for the collector to take its spans, retries included.
   * Only the chosen protocol's exporter is loaded (gRPC's brings a whole HTTP/2 client).
   */
  static async create(opts: { timeoutMs: number; protocol: OtlpProtocol; serviceName?: string }): Promise<OtelBuildExporter> {
    const config = { timeoutMillis: opts.timeoutMs };
    let exporter: SpanExporter;
    if (opts.protocol === 'grpc') exporter = new (await import('@opentelemetry/exporter-trace-otlp-grpc')).OTLPTraceExporter(config);
    else if (opts.protocol === 'http/protobuf') exporter = new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter(config);
    else exporter = new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter(config);
    return new OtelBuildExporter(exporter, opts);
  }

  private constructor(exporter: SpanExporter, opts: { timeoutMs: number; serviceName?: string }) {
    this.#waitMs = opts.timeoutMs;
    this.#exporter = new WatchedExporter(exporter);
    this.#provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': opts.serviceName ?? 'tbuild' }),
      spanProcessors: [new BatchSpanProcessor(this.#exporter)],
    });
    this.#tracer = this.#provider.getTracer('tbuild');
  }

  /**
   * Send one build's spans and wait until the collector has them. Resolves with why they could
   * not be sent (the build itself is not failed by its traces), or undefined.
   */
  async send(b: BuildTrace): Promise<string | undefined> {
    const parent = b.traceParent ? parseTraceParent(b.traceParent) : null;
    const base: Context = parent ? trace.setSpanContext(ROOT_CONTEXT, { ...parent, isRemote: true }) : ROOT_CONTEXT;
    const root = this.#tracer.startSpan(b.name, { startTime: b.started, attributes: b.attributes }, base);
    if (b.error) root.setStatus({ code: SpanStatusCode.ERROR, message: b.error });
    const inBuild = trace.setSpan(base, root);
    const byVertex = new Map<string, Context>();
    for (const s of b.steps) {
      const span = this.#tracer.startSpan(s.name, { startTime: s.started, attributes: { 'tbuild.vertex': s.vertex, 'tbuild.cached': s.cached } }, inBuild);
      if (s.error) span.setStatus({ code: SpanStatusCode.ERROR, message: s.error });
      byVertex.set(s.vertex, trace.setSpan(inBuild, span));
      // ended after its phases are made: a span's children need only its context, not an open span
      span.end(s.completed);
    }
    for (const p of b.phases) {
      const under = p.vertex === undefined ? inBuild : byVertex.get(p.vertex);
      if (!under) continue;
      this.#tracer.startSpan(p.name, { startTime: p.started }, under).end(p.completed);
    }
    root.end(b.completed);
    this.#exporter.failure = undefined;
    // The exporter retries a collector that is down until its timeout; the race only guards
    // against an exporter that overstays it.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`the collector did not take them within ${this.#waitMs / 1000} s`), this.#waitMs + 1000);
    });
    try {
      const flushed = this.#provider.forceFlush().then(
        () => this.#exporter.failure,
        (err: unknown) => (err instanceof Error ? err.message : String(err)),
      );
      return await Promise.race([flushed, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  shutdown(): Promise<void> {
    return this.#provider.shutdown();
  }
}

/** The OTLP exporter, remembering why its last export failed (the SDK only logs it). */
class WatchedExporter implements SpanExporter {
  failure: string | undefined;
  readonly #inner: SpanExporter;

  constructor(inner: SpanExporter) {
    this.#inner = inner;
  }

  export(spans: ReadableSpan[], done: Parameters<SpanExporter['export']>[1]): void {
    this.#inner.export(spans, (result) => {
      if (result.code !== 0) this.failure = result.error?.message ?? 'the collector refused them';
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }
}

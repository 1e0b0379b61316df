import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BUSYBOX_TAR, runCli } from '../support/cli.js';
import { isRoot, mountsUnder, tempDir } from '../support/tmp.js';
import { attr, startOtlpReceiver, type OtlpSpan } from '../support/otlp-receiver.js';
import { startDaemon } from '../cli/remote/daemon.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER = '00f067aa0ba902b7';

/** The build span of one trace, its steps, and each step's phases, checked for nesting. */
function shape(spans: OtlpSpan[], traceId: string) {
  const mine = spans.filter((s) => s.traceId === traceId);
  const builds = mine.filter((s) => s.name === 'build');
  expect(builds).toHaveLength(1);
  const build = builds[0]!;
  const steps = mine.filter((s) => s.parentSpanId === build.spanId && attr(s, 'tbuild.vertex') !== undefined);
  const phasesOf = (step: OtlpSpan) => mine.filter((s) => s.parentSpanId === step.spanId);
  const within = (inner: OtlpSpan, outer: OtlpSpan) => {
    expect(BigInt(inner.startTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(outer.startTimeUnixNano));
    // a phase may end within a millisecond after its step's (ms) end
    expect(BigInt(inner.endTimeUnixNano)).toBeLessThanOrEqual(BigInt(outer.endTimeUnixNano) + 1_000_000n);
  };
  for (const s of steps) {
    within(s, build);
    for (const p of phasesOf(s)) within(p, s);
  }
  return { build, steps, phasesOf, own: mine.filter((s) => s.parentSpanId === build.spanId && attr(s, 'tbuild.vertex') === undefined) };
}

describe.runIf(isRoot)('OpenTelemetry: a build sends its spans to an OTLP collector, in each of its protocols', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let root: string;
  let ctx: string;
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;

  beforeAll(async () => {
    tmp = await tempDir('tbotel-');
    root = join(tmp.path, 'state');
    receiver = await startOtlpReceiver();
    expect((await runCli(['load', '-i', BUSYBOX_TAR], { root })).code).toBe(0);
    ctx = join(tmp.path, 'ctx');
    await mkdir(ctx);
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:local\nRUN sleep 0.3 && echo hi > /x\nCOPY f /f\n');
    await writeFile(join(ctx, 'f'), 'f');
  });

  afterAll(async () => {
    await receiver.close();
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  });

  test('embedded, gRPC as BuildKit defaults to: the build, a span per step, the phases of each step, inside the trace of $TRACEPARENT', async () => {
    const r = await runCli(['build', '-q', '--no-cache', '--network', 'none', ctx], {
      root,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.grpc, TRACEPARENT: `00-${TRACE}-${CALLER}-01` },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const { build, steps, phasesOf, own } = shape(receiver.spans, TRACE);
    expect(new Set(receiver.spans.filter((s) => s.traceId === TRACE).map((s) => s.protocol))).toEqual(new Set(['grpc']));
    expect(build.parentSpanId).toBe(CALLER);
    expect(build.service).toBe('tbuild');
    expect(attr(build, 'tbuild.image')).toBe(r.stdout.trim());
    const run = steps.find((s) => s.name.includes('RUN sleep 0.3'));
    expect(run, steps.map((s) => s.name).join('\n')).toBeDefined();
    expect(attr(run!, 'tbuild.cached')).toBe(false);
    expect(steps.some((s) => s.name.includes('COPY f /f'))).toBe(true);
    const phases = phasesOf(run!).map((p) => p.name);
    for (const n of ['snapshot prepare', 'runtime setup', 'run', 'diff', 'commit']) expect(phases).toContain(n);
    const process = phasesOf(run!).find((p) => p.name === 'run')!;
    expect(BigInt(process.endTimeUnixNano) - BigInt(process.startTimeUnixNano)).toBeGreaterThanOrEqual(300_000_000n);
    expect(own.map((s) => s.name)).toEqual(expect.arrayContaining(['context transfer', 'export']));
  }, 120_000);

  test('through the daemon, over OTLP/HTTP with protobuf bodies: its spans join the trace the client passes in `traceparent`', async () => {
    const d = await startDaemon(join(tmp.path, 'd'), { env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.http, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' } });
    try {
      expect((await runCli(['-H', d.host, 'load', '-i', BUSYBOX_TAR])).code).toBe(0);
      const trace = 'aaf92f3577b34da6a3ce929d0e0e4736';
      const r = await runCli(['-H', d.host, 'build', '-q', '--no-cache', '--network', 'none', ctx], { env: { TRACEPARENT: `00-${trace}-${CALLER}-01` } });
      expect(r.code, r.stderr).toBe(0);
      const { build, steps } = shape(receiver.spans, trace);
      expect(build.protocol).toBe('http/protobuf');
      expect(build.parentSpanId).toBe(CALLER);
      expect(steps.some((s) => s.name.includes('RUN sleep 0.3'))).toBe(true);
      // a malformed trace context is refused, not dropped
      const bad = await runCli(['-H', d.host, 'build', '-q', ctx], { env: { TRACEPARENT: 'not-a-trace' } });
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain('TRACEPARENT=not-a-trace');
    } finally {
      await d.stop();
    }
  }, 180_000);

  test('the traces-only settings win: OTLP/HTTP with JSON bodies to `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`', async () => {
    const trace = 'bbf92f3577b34da6a3ce929d0e0e4736';
    const r = await runCli(['build', '-q', '--network', 'none', ctx], {
      root,
      env: {
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.http}/v1/traces`,
        TRACEPARENT: `00-${trace}-${CALLER}-01`,
      },
    });
    expect(r.code, r.stderr).toBe(0);
    const { build, steps } = shape(receiver.spans, trace);
    expect(build.protocol).toBe('http/json');
    expect(build.service).toBe('tbuild');
    expect(attr(steps.find((s) => s.name.includes('RUN sleep 0.3'))!, 'tbuild.cached')).toBe(true);
  }, 120_000);

  test('a collector that cannot be reached is a warning, not a failed build; a protocol OTLP does not have is refused by name', async () => {
    const down = await startOtlpReceiver();
    await down.close();
    for (const env of [{ OTEL_EXPORTER_OTLP_ENDPOINT: down.grpc }, { OTEL_EXPORTER_OTLP_ENDPOINT: down.http, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }]) {
      const r = await runCli(['build', '--progress', 'plain', '--network', 'none', ctx], { root, env: { ...env, OTEL_EXPORTER_OTLP_TIMEOUT: '2000' } });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain("the build's traces were not sent to the OpenTelemetry collector");
    }
    const thrift = await runCli(['build', '-q', ctx], { root, env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.http, OTEL_EXPORTER_OTLP_PROTOCOL: 'thrift' } });
    expect(thrift.code).not.toBe(0);
    expect(thrift.stderr).toContain('OTEL_EXPORTER_OTLP_PROTOCOL=thrift');
  }, 120_000);
});

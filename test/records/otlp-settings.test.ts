import { describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { otlpSettings } from '../../src/records/otlp-settings.js';
import { observedBuild } from '../../src/records/observed-build.js';
import { BuildRecordStore } from '../../src/records/store.js';
import { isTbuildError } from '../../src/errors.js';
import type { ProgressEvent } from '../../src/build/types.js';
import { tempDir } from '../support/tmp.js';

/** The message of the error `env` is refused with (its code checked). */
function refusal(env: NodeJS.ProcessEnv): string {
  try {
    otlpSettings(env);
  } catch (err) {
    expect(isTbuildError(err, 'TB_INVALID_ARGUMENT'), String(err)).toBe(true);
    return (err as Error).message;
  }
  throw new Error(`not refused: ${JSON.stringify(env)}`);
}

describe("OpenTelemetry settings: the SDK's variables, read as BuildKit reads them", () => {
  test('off unless an endpoint or the otlp exporter is named; gRPC by default; the traces-only settings win', () => {
    expect(otlpSettings({})).toBeUndefined();
    expect(otlpSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4317' })).toEqual({ protocol: 'grpc', timeoutMs: 5000 });
    expect(otlpSettings({ OTEL_TRACES_EXPORTER: 'OTLP' })).toEqual({ protocol: 'grpc', timeoutMs: 5000 });
    expect(otlpSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'localhost:4317' })?.protocol).toBe('grpc');
    const env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_TIMEOUT: '9000',
      OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '2000',
    };
    expect(otlpSettings(env)).toEqual({ protocol: 'http/protobuf', timeoutMs: 2000 });
    expect(otlpSettings({ ...env, OTEL_SDK_DISABLED: 'TRUE' })).toBeUndefined();
    expect(otlpSettings({ ...env, OTEL_TRACES_EXPORTER: 'none' })).toBeUndefined();
  });

  test('what the exporters would only log is refused, naming the variable', async () => {
    const ep = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4317' };
    expect(refusal({ OTEL_TRACES_EXPORTER: 'console' })).toContain('OTEL_TRACES_EXPORTER=console');
    expect(refusal({ ...ep, OTEL_TRACES_EXPORTER: 'otlp,zipkin' })).toContain('not zipkin');
    expect(refusal({ ...ep, OTEL_EXPORTER_OTLP_PROTOCOL: 'thrift' })).toContain('OTEL_EXPORTER_OTLP_PROTOCOL=thrift');
    expect(refusal({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:99999' })).toContain('OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:99999: not a URL');
    expect(refusal({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'localhost:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })).toContain('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=localhost:4318');
    expect(refusal({ ...ep, OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://c:21' })).toContain('want an http:// or https:// URL');
    expect(refusal({ ...ep, OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: '/nonexistent/ca.pem' })).toContain('OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE=/nonexistent/ca.pem: cannot read it (ENOENT)');
    expect(refusal({ ...ep, OTEL_EXPORTER_OTLP_COMPRESSION: 'brotli' })).toContain('want gzip or none');
    expect(refusal({ ...ep, OTEL_EXPORTER_OTLP_TRACES_INSECURE: 'yes' })).toContain('OTEL_EXPORTER_OTLP_TRACES_INSECURE=yes: want true or false');
    expect(refusal({ ...ep, OTEL_EXPORTER_OTLP_TIMEOUT: 'soon' })).toContain('OTEL_EXPORTER_OTLP_TIMEOUT=soon');
    // a header's value is a credential: refused without showing it
    const headers = refusal({ ...ep, OTEL_EXPORTER_OTLP_HEADERS: 'x-team=build,Bearer s3cret' });
    expect(headers).toContain('entry 2 is not KEY=VALUE');
    expect(headers).not.toContain('s3cret');
    const tmp = await tempDir('tbotlp-');
    try {
      const ca = join(tmp.path, 'ca.pem');
      await writeFile(ca, 'not checked here: the exporter reads it');
      expect(otlpSettings({ ...ep, OTEL_EXPORTER_OTLP_CERTIFICATE: ca, OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip', OTEL_EXPORTER_OTLP_HEADERS: 'a=1, b=2' })).toBeDefined();
    } finally {
      await tmp.cleanup();
    }
  });

  test('an exporter that cannot be made is a warning after the build, never a failed build', async () => {
    const tmp = await tempDir('tbotlp-');
    try {
      const events: ProgressEvent[] = [];
      const result = await observedBuild(
        { records: new BuildRecordStore(join(tmp.path, 'builds')), otel: () => Promise.reject(new Error('Invalid URL')) },
        { context: tmp.path, onProgress: (e) => events.push(e) },
        async () => ({ imageId: 'sha256:' + 'a'.repeat(64) }) as never,
      );
      expect(result.imageId).toBe('sha256:' + 'a'.repeat(64));
      expect(events).toContainEqual({ type: 'warning', message: "the build's traces were not sent to the OpenTelemetry collector: Invalid URL" });
    } finally {
      await tmp.cleanup();
    }
  });
});

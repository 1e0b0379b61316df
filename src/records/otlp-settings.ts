import { accessSync, constants } from 'node:fs';
import { TbuildError } from '../errors.js';
import type { OtlpProtocol } from './types.js';

/** What the engine needs to send a build's spans; the SDK's exporter reads the rest itself. */
export interface OtlpSettings {
  protocol: OtlpProtocol;
  /** How long one build waits for the collector to take its spans, retries included. */
  timeoutMs: number;
}

const invalid = (name: string, value: string, why: string) => new TbuildError('TB_INVALID_ARGUMENT', `${name}=${value}: ${why}`);

/**
 * Whether builds send their spans to an OpenTelemetry collector, and how: the SDK's own
 * variables, read as BuildKit reads them (gRPC unless `OTEL_EXPORTER_OTLP_PROTOCOL` says
 * `http/protobuf` or `http/json`; `OTEL_TRACES_EXPORTER=otlp` alone sends to the SDK's default
 * endpoint). The SDK's exporters only log a setting they cannot use (a malformed endpoint
 * becomes localhost, an unreadable certificate the system's), so every one they read is checked
 * here and refused by name.
 */
export function otlpSettings(env: NodeJS.ProcessEnv): OtlpSettings | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .filter(Boolean);
  if (exporters.includes('none')) return undefined;
  const other = exporters.filter((e) => e !== 'otlp');
  if (other.length) throw invalid('OTEL_TRACES_EXPORTER', env.OTEL_TRACES_EXPORTER!, `tbuild exports traces through otlp only, not ${other.join(', ')}`);
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT && !exporters.length) return undefined;

  // the traces-only setting wins over the general one, as in the SDK
  const setting = (key: string): [string, string] | undefined => {
    for (const name of [`OTEL_EXPORTER_OTLP_TRACES_${key}`, `OTEL_EXPORTER_OTLP_${key}`]) {
      const v = env[name];
      if (v !== undefined && v.trim() !== '') return [name, v.trim()];
    }
    return undefined;
  };
  let protocol: OtlpProtocol = 'grpc';
  const p = setting('PROTOCOL');
  if (p) {
    if (p[1] !== 'grpc' && p[1] !== 'http/protobuf' && p[1] !== 'http/json') throw invalid(p[0], p[1], "OTLP's protocols are grpc, http/protobuf and http/json");
    protocol = p[1];
  }
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT']) {
    const v = env[name]?.trim();
    if (v) checkEndpoint(name, v, protocol);
  }
  for (const key of ['CERTIFICATE', 'CLIENT_KEY', 'CLIENT_CERTIFICATE']) {
    const f = setting(key);
    if (!f) continue;
    try {
      accessSync(f[1], constants.R_OK);
    } catch (err) {
      throw invalid(f[0], f[1], `cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  const insecure = setting('INSECURE');
  if (insecure && !/^(true|false)$/i.test(insecure[1])) throw invalid(insecure[0], insecure[1], 'want true or false');
  const c = setting('COMPRESSION');
  if (c && c[1] !== 'gzip' && c[1] !== 'none') throw invalid(c[0], c[1], 'want gzip or none');
  const h = setting('HEADERS');
  if (h) {
    // (their values are credentials: never shown)
    h[1].split(',').forEach((pair, i) => {
      if (pair.trim() && !/^[^=\s][^=]*=/.test(pair.trim())) throw invalid(h[0], '…', `entry ${i + 1} is not KEY=VALUE`);
    });
  }
  // how long a build waits for the collector (the SDK's default, 10 s, retries a down one that long)
  const t = setting('TIMEOUT');
  const timeoutMs = t ? Number(t[1]) : 5000;
  if (t && (!Number.isFinite(timeoutMs) || timeoutMs <= 0)) throw invalid(t[0], t[1], 'want milliseconds');
  return { protocol, timeoutMs };
}

/** An http(s) URL; for gRPC also `HOST:PORT`, as its client takes it. */
function checkEndpoint(name: string, value: string, protocol: OtlpProtocol): void {
  const bare = protocol === 'grpc' && !/^[a-z][a-z0-9+.-]*:\/\//i.test(value);
  let url: URL;
  try {
    url = new URL(bare ? `https://${value}` : value);
  } catch {
    throw invalid(name, value, 'not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(name, value, 'want an http:// or https:// URL');
}

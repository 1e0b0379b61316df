/**
 * Settings, read once for the composition root (engine.ts, the only importer) and nowhere else:
 * every module below gets values, not the environment. Precedence: option (a flag) > environment
 * variable > settings file > default, with the source of each remembered for `tbuild info`.
 */
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import type { NetworkSettings } from './network/manager.js';
import type { RegistryOptions } from './registry/types.js';
import { otlpSettings } from './records/otlp-settings.js';
import { enableTracing } from './util/trace.js';
import { setDecompressionLimits, type DecompressionLimits } from './util/decompression-limits.js';
import { TbuildError } from './errors.js';
import { loadDaemonConfig } from './config/daemon-json.js';
import type { SettingSource } from './config/types.js';
import { DEFAULT_ROOT } from './defaults.js';

export interface EngineOptions {
  /** State root; default `$TBUILD_ROOT` or /var/lib/tbuild. */
  root?: string;
  /** Low-level OCI runtime binary; default `$TBUILD_RUNTIME` or `runc`. */
  runtime?: string;
  /** Most steps run at once across all builds; default `$TBUILD_MAX_PARALLELISM` or 8. */
  maxParallelism?: number;
  /** Default seccomp profile file, or `unconfined`; default `$TBUILD_SECCOMP_PROFILE` or containers-common's. */
  seccompProfile?: string;
  /** `SOURCE_DATE_EPOCH` for every build and import that gives none; default `$SOURCE_DATE_EPOCH`. */
  sourceDateEpoch?: number;
  /**
   * The default network: bridge name (`$TBUILD_BRIDGE`, default tbuild0) and subnet
   * (`$TBUILD_BRIDGE_SUBNET`, default 10.232.0.0/16); user networks without `--subnet` get a /24
   * of `userPool` (`$TBUILD_NETWORK_POOL`, default 10.233.0.0/16).
   */
  network?: { bridge?: string; subnet?: string; userPool?: string };
  /**
   * The process ends soon after its work (the CLI's embedded engine): releasing the RUN steps'
   * idle network namespaces at the end of a build is handed to a detached helper process instead
   * of delaying the exit by netavark's teardown.
   */
  shortLived?: boolean;
  /** Resolvers for RUN steps and containers on the default network (`$TBUILD_DNS`, daemon.json `dns`, …). */
  dns?: { servers?: string[]; search?: string[]; options?: string[] };
  /**
   * How registries are reached. Default: `$TBUILD_INSECURE_REGISTRIES` (comma-separated hosts or
   * CIDRs allowed over plain HTTP; loopback always is), `$TBUILD_REGISTRY_CERTS_DIR` (default
   * /etc/docker/certs.d), `$TBUILD_REGISTRY_MIRRORS` (comma-separated docker.io mirrors),
   * credentials from `$DOCKER_CONFIG/config.json` (default ~/.docker).
   */
  registry?: RegistryOptions;
  /**
   * Limits on what one compressed context, layer or archive may expand to; defaults
   * `$TBUILD_MAX_DECOMPRESSED` (bytes) and `$TBUILD_MAX_DECOMPRESSION_RATIO`, else 64 GiB and 1000:1.
   */
  decompression?: Partial<DecompressionLimits>;
  /**
   * The settings file in Docker's daemon.json keys; default `$TBUILD_CONFIG`, else
   * /etc/tbuild/daemon.json when it exists. Flags and environment variables win over it.
   */
  configFile?: string;
  /**
   * After every build, trim the build cache back under `keepStorage` bytes (daemon.json
   * `builder.gc`); without a size, BuildKit's kind of default: 10% of the state root's filesystem,
   * at most 20 GB. `false` (`"enabled": false`): never collect on its own.
   */
  gc?: { keepStorage?: number } | false;
}

function listSetting(v: string | undefined): string[] {
  return (v ?? '').split(',').map((x) => x.trim()).filter(Boolean);
}


/**
 * Settings, read once, here and nowhere else: every module below gets values, not the environment.
 * A malformed value is an error rather than a silent default.
 */
export function settings(opts: EngineOptions, env: NodeJS.ProcessEnv = process.env) {
  const file = loadDaemonConfig(opts.configFile, env);
  const sources: Record<string, SettingSource> = {};
  /** flag > environment > settings file > default, remembering which one gave the value. */
  const pick = <T>(name: string, flag: T | undefined, envName: string | undefined, fromFile: T | undefined, fallback?: T): T | undefined => {
    const fromEnv = envName !== undefined && env[envName] ? env[envName] : undefined;
    if (flag !== undefined) sources[name] = 'flag';
    else if (fromEnv !== undefined) sources[name] = `env ${envName}`;
    else if (fromFile !== undefined) sources[name] = `file ${file!.file}`;
    else if (fallback !== undefined) sources[name] = 'default';
    return flag ?? (fromEnv as T | undefined) ?? fromFile ?? fallback;
  };
  const root = resolve(pick('root', opts.root, 'TBUILD_ROOT', file?.dataRoot, DEFAULT_ROOT)!);
  const runtime = opts.runtime ?? env.TBUILD_RUNTIME ?? 'runc';
  let maxParallelism = opts.maxParallelism;
  if (maxParallelism === undefined && env.TBUILD_MAX_PARALLELISM) {
    maxParallelism = Number(env.TBUILD_MAX_PARALLELISM);
    if (!Number.isInteger(maxParallelism) || maxParallelism < 1) {
      throw new TbuildError('TB_INVALID_ARGUMENT', `TBUILD_MAX_PARALLELISM=${env.TBUILD_MAX_PARALLELISM}: want a positive integer`);
    }
  }
  let sourceDateEpoch = opts.sourceDateEpoch;
  if (sourceDateEpoch === undefined && env.SOURCE_DATE_EPOCH) {
    if (!/^\d+$/.test(env.SOURCE_DATE_EPOCH)) {
      throw new TbuildError('TB_INVALID_ARGUMENT', `SOURCE_DATE_EPOCH=${env.SOURCE_DATE_EPOCH}: want seconds since 1970 (digits only)`);
    }
    sourceDateEpoch = Number(env.SOURCE_DATE_EPOCH);
  }
  enableTracing(Boolean(env.TBUILD_TRACE));
  const positive = (name: string): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new TbuildError('TB_INVALID_ARGUMENT', `${name}=${raw}: want a positive number`);
    return n;
  };
  const maxBytes = positive('TBUILD_MAX_DECOMPRESSED');
  const maxRatio = positive('TBUILD_MAX_DECOMPRESSION_RATIO');
  setDecompressionLimits({ ...(maxBytes ? { maxBytes } : {}), ...(maxRatio ? { maxRatio } : {}), ...opts.decompression });
  const seccompProfile = pick('seccomp-profile', opts.seccompProfile, 'TBUILD_SECCOMP_PROFILE', file?.seccompProfile);
  if (seccompProfile !== undefined && seccompProfile !== 'unconfined' && !seccompProfile.startsWith('/')) {
    throw new TbuildError('TB_INVALID_ARGUMENT', `TBUILD_SECCOMP_PROFILE=${seccompProfile}: want an absolute path or "unconfined"`);
  }
  const insecure = pick('insecure-registries', opts.registry?.insecure, 'TBUILD_INSECURE_REGISTRIES', file?.insecureRegistries);
  const mirrors = pick('registry-mirrors', opts.registry?.mirrors, 'TBUILD_REGISTRY_MIRRORS', file?.registryMirrors);
  const registry: RegistryOptions = {
    ...(env.TBUILD_REGISTRY_CERTS_DIR ? { certsDir: env.TBUILD_REGISTRY_CERTS_DIR } : {}),
    ...opts.registry,
    insecure: typeof insecure === 'string' ? listSetting(insecure) : (insecure ?? []),
    ...(mirrors !== undefined ? { mirrors: typeof mirrors === 'string' ? listSetting(mirrors) : mirrors } : {}),
  };
  const network: NetworkSettings = {
    root,
    bridge: pick('bridge', opts.network?.bridge, 'TBUILD_BRIDGE', file?.bridge),
    subnet: pick('bip', opts.network?.subnet, 'TBUILD_BRIDGE_SUBNET', file?.bridgeSubnet),
    userPool: pick('default-address-pools', opts.network?.userPool, 'TBUILD_NETWORK_POOL', file?.addressPool),
    ...(opts.shortLived ? { detachTeardown: true } : {}),
  };
  const dnsServers = pick('dns', opts.dns?.servers, 'TBUILD_DNS', file?.dns?.servers);
  const dnsSearch = pick('dns-search', opts.dns?.search, 'TBUILD_DNS_SEARCH', file?.dns?.search);
  const dnsOptions = pick('dns-opts', opts.dns?.options, 'TBUILD_DNS_OPTS', file?.dns?.options);
  const asList = (v: string | string[] | undefined) => (typeof v === 'string' ? listSetting(v) : v);
  const dns = dnsServers || dnsSearch || dnsOptions
    ? { ...(dnsServers ? { servers: asList(dnsServers)! } : {}), ...(dnsSearch ? { search: asList(dnsSearch)! } : {}), ...(dnsOptions ? { options: asList(dnsOptions)! } : {}) }
    : undefined;
  for (const ip of dns?.servers ?? []) if (!isIP(ip)) throw new TbuildError('TB_INVALID_ARGUMENT', `dns: "${ip}" is not an IP address`);
  const fileGc = file?.builderGc;
  const gcFromFile = fileGc === undefined ? undefined : fileGc.enabled ? { ...(fileGc.keepStorage !== undefined ? { keepStorage: fileGc.keepStorage } : {}) } : false;
  const gc = pick<{ keepStorage?: number } | false>('builder.gc', opts.gc, undefined, gcFromFile, {});
  const dockerConfig = env.DOCKER_CONFIG;
  const otlp = otlpSettings(env);
  return { root, runtime, maxParallelism: Math.max(2, maxParallelism ?? 8), sourceDateEpoch, registry, dockerConfig, network, seccompProfile, gc, sources, file, dns, otlp };
}


/**
 * The settings file (`/etc/tbuild/daemon.json`, or `$TBUILD_CONFIG`, or the daemon's
 * `--config-file`), in Docker's `daemon.json` words, as the composition root and the daemon
 * command read it. Values here sit below flags and environment variables in precedence.
 */
export interface DaemonConfig {
  /** The file the values came from. */
  file: string;
  dataRoot?: string;
  hosts?: string[];
  tls?: boolean;
  tlsverify?: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
  insecureRegistries?: string[];
  registryMirrors?: string[];
  /** `default-address-pools`: where user networks get their /24 subnets. */
  addressPool?: string;
  /** `bip`: the default bridge's gateway address and prefix, e.g. 10.232.0.1/16. */
  bridgeSubnet?: string;
  bridge?: string;
  seccompProfile?: string;
  /** `dns`, `dns-search`, `dns-opts`: the resolv.conf of containers and RUN steps that name none (user networks keep their own DNS). */
  dns?: DnsDefaults;
  /** `builder.gc`: keep the build cache under `keepStorage` bytes after every build. */
  builderGc?: { enabled: boolean; keepStorage?: number };
}

export interface DnsDefaults {
  servers?: string[];
  search?: string[];
  options?: string[];
}

/** Where a setting's value came from, as `tbuild info` reports it. */
export type SettingSource = 'flag' | `env ${string}` | `file ${string}` | 'default';

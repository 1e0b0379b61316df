import type { Filters } from '../util/filters.js';
/**
 * Container networking: network namespaces made by tbuild (bind-mounted under the state root),
 * plumbed by netavark (bridge, veth, NAT, port forwarding) with aardvark-dns answering names on
 * user networks. Callers get a namespace path to hand to the runtime and release it when the
 * container or RUN step ends; whatever a crashed process held is released by `reconcile`.
 */

/** A network definition, stored as `<root>/network/networks/<id>.json`. */
export interface NetworkRecord {
  /** 64 hex characters. */
  id: string;
  name: string;
  driver: 'bridge';
  /** Linux bridge interface name (≤ 15 characters). */
  bridge: string;
  /** IPv4 CIDR, e.g. `10.232.0.0/16`. */
  subnet: string;
  gateway: string;
  /** No route out (netavark's `internal`). */
  internal: boolean;
  /** aardvark-dns answers container names on this network (user networks; not the default bridge). */
  dnsEnabled: boolean;
  labels: Record<string, string>;
  /** ISO time. */
  created: string;
  /** The default `bridge` network, made from the engine's settings; cannot be removed. */
  builtin?: boolean;
}

export interface CreateNetworkOptions {
  name: string;
  subnet?: string;
  gateway?: string;
  internal?: boolean;
  labels?: Record<string, string>;
}

/** One published port, as netavark takes it (`range` consecutive ports from each start). */
export interface PortMapping {
  /** '' means every host address. */
  hostIp: string;
  /** 0 asks for a free port. */
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
  /** Number of consecutive ports, ≥ 1. */
  range: number;
}

export interface EndpointRequest {
  /** Network name or id (or a unique id prefix). */
  network: string;
  aliases?: string[];
  /** A fixed address inside the network's subnet (`--ip`). */
  ip?: string;
}

export interface AttachRequest {
  /** Names the attachment and its namespace: a container id or a RUN step id ([A-Za-z0-9_.-]). */
  id: string;
  /** Container name, answered by aardvark-dns on user networks. */
  name: string;
  networks: EndpointRequest[];
  ports?: PortMapping[];
  /**
   * The process that owns the attachment (default: the calling process). When it is gone,
   * `reconcile` releases the namespace, the backend state and the addresses.
   */
  ownerPid?: number;
}

/** The container's place on one network (Docker's `NetworkSettings.Networks[name]`). */
export interface Endpoint {
  network: string;
  networkId: string;
  ipAddress: string;
  prefixLen: number;
  gateway: string;
  macAddress: string;
  aliases: string[];
}

/** What `attach` made; also what `status(id)` reads back from disk. */
export interface AttachmentInfo {
  id: string;
  /** Bind-mounted network namespace, for the runtime spec's `{type: network, path}`. */
  netnsPath: string;
  endpoints: Endpoint[];
  /** Published ports with host ports resolved. */
  ports: PortMapping[];
  /** Nameservers the container should use (aardvark-dns on the first DNS-enabled network, else none). */
  dnsServers: string[];
  /** The host's address on the first network: what `host-gateway` means. */
  hostGateway: string;
}

export interface Attachment extends AttachmentInfo {
  /** Undo `attach`: backend teardown, namespace unmounted, addresses freed. Idempotent. */
  release(): Promise<void>;
}

/** Implemented by `NetavarkNetworks` in manager.ts. */
export interface NetworkManager {
  /** Name of the default network (`bridge`). */
  readonly defaultNetwork: string;
  /**
   * Make a namespace, give it an address on each network and publish `ports`. On failure
   * nothing is left. Throws TB_NETWORK_NOT_FOUND, TB_PORT_IN_USE, TB_NETWORK_EXHAUSTED,
   * TB_NETWORK_FAILED (backend error, message included).
   */
  attach(req: AttachRequest): Promise<Attachment>;
  /**
   * A namespace on the default network for one RUN step (BuildKit's `default` network), from a
   * pool of ready ones when possible: set-up costs a few hundred milliseconds.
   */
  acquireDefault(): Promise<Attachment>;
  /** Keep the default bridge up while this process lives (a daemon); call the result to let it go. */
  holdDefaultBridge?(): Promise<() => Promise<void>>;
  /** Start making a namespace for `acquireDefault` now (a build with RUN steps on the default network is under way). */
  prewarm?(): void;
  /** Add a network to live attachment `id` (a running container); TB_NETWORK_EXISTS if already on it. */
  connect(id: string, name: string, endpoint: EndpointRequest): Promise<AttachmentInfo>;
  /** Take a network out of live attachment `id`; nothing when it is not on it. */
  disconnect(id: string, network: string): Promise<void>;
  /** The live attachment `id`, if any (read from disk: another process may own it). */
  status(id: string): Promise<AttachmentInfo | undefined>;
  /** Release attachments whose owner process is gone, and namespaces nobody records. */
  reconcile(): Promise<string[]>;
  /**
   * Tear down this process' idle pooled namespaces; with `detach`, a detached helper process
   * does it, so a one-shot process need not wait (a crash of the helper is reconciled as usual).
   */
  close(opts?: { detach?: boolean }): Promise<void>;

  create(opts: CreateNetworkOptions): Promise<NetworkRecord>;
  list(): Promise<NetworkRecord[]>;
  /** By name, id or unique id prefix; TB_NETWORK_NOT_FOUND otherwise. */
  inspect(ref: string): Promise<NetworkRecord>;
  /** Ids of attachments (containers) currently on the network. */
  users(ref: string): Promise<string[]>;
  /** TB_NETWORK_IN_USE while attached; the builtin network cannot be removed. */
  remove(ref: string): Promise<void>;
  /** Remove unused user networks; returns their names. */
  /** Remove the networks no container uses, among those the filters keep (`until`, `label`, `label!`); their names. */
  prune(filters?: Filters): Promise<string[]>;
}

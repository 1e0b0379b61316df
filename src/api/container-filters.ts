import type { ContainerRecord } from '../containers/types.js';
import type { ImageConfig } from '../images/types.js';
import { TbuildError } from '../errors.js';
import { anyValue, checkFilterNames, matchLabel, type Filters } from '../util/filters.js';
import { containerInspect, containerSummary } from './shapes/containers.js';

const badRequest = (message: string): TbuildError => new TbuildError('TB_INVALID_ARGUMENT', message);

/** The filters of `docker ps` (`GET /containers/json`). */
export const CONTAINER_LIST_FILTERS = ['status', 'name', 'id', 'label', 'ancestor', 'exited', 'before', 'since', 'network', 'volume', 'health', 'is-task', 'publish', 'expose'] as const;
const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];
const HEALTH = ['starting', 'healthy', 'unhealthy', 'none'];

/** What the filters look up besides the containers themselves. */
export interface ContainerFilterSources {
  /** An image by reference or id (ancestor; the config for `expose`). */
  image(ref: string): Promise<{ id: string; config: { config?: ImageConfig['config'] } } | undefined>;
  /** A container by name or id; throws TB_CONTAINER_NOT_FOUND (before/since). */
  container(ref: string): Promise<ContainerRecord>;
}

/** Does a filter ask for stopped containers too (`status=exited`, `exited=N`)? As Docker's list. */
export function filtersWantAll(filters: Filters): boolean {
  return (filters.get('status')?.length ?? 0) > 0 || filters.has('exited');
}

/**
 * The containers of `list` that `docker ps --filter` keeps: one implementation for the daemon's
 * `GET /containers/json` and the CLI, so both answer the same. Unknown names and bad values are
 * refused by name.
 */
export async function selectContainers(list: ContainerRecord[], filters: Filters, src: ContainerFilterSources, now = Date.now()): Promise<ContainerRecord[]> {
  if (!filters.size) return list;
  checkFilterNames(filters, CONTAINER_LIST_FILTERS);
  for (const s of filters.get('status') ?? []) if (!STATUSES.includes(s)) throw badRequest(`invalid filter 'status=${s}'`);
  for (const h of filters.get('health') ?? []) if (!HEALTH.includes(h)) throw badRequest(`invalid filter 'health=${h}'`);
  const ancestors = new Set<string>();
  for (const ref of filters.get('ancestor') ?? []) {
    const img = await src.image(ref);
    if (img) ancestors.add(img.id);
  }
  // before/since name a container: only those created before (after) it
  const pivot = async (key: string): Promise<number | undefined> => {
    const ref = filters.get(key)?.[0];
    return ref === undefined ? undefined : Date.parse((await src.container(ref)).created);
  };
  const before = await pivot('before');
  const since = await pivot('since');
  // `expose` reads the ports the container's config exposes (its image's and its own)
  const exposedOf = new Map<string, string[]>();
  if (filters.has('expose')) {
    for (const c of list) {
      const img = await src.image(c.imageId).catch(() => undefined);
      const config = (containerInspect(c, img?.config.config, []) as { Config: { ExposedPorts?: Record<string, unknown> } }).Config;
      exposedOf.set(c.id, Object.keys(config.ExposedPorts ?? {}));
    }
  }
  return list.filter((c) =>
    matchesContainerFilters(c, containerSummary(c, now) as unknown as SummaryView, filters, {
      ancestors,
      ...(before !== undefined ? { before } : {}),
      ...(since !== undefined ? { since } : {}),
      exposed: (x) => exposedOf.get(x.id) ?? [],
    }),
  );
}

/** What a summary row shows that the filters read (Docker's `GET /containers/json` shape). */
interface SummaryView {
  NetworkSettings: { Networks: Record<string, { NetworkID?: string }> };
  Mounts: Array<{ Name?: string; Source?: string; Destination?: string }>;
  Ports: Array<{ PrivatePort: number; PublicPort?: number; Type: string }>;
}

interface ContainerFilterContext {
  /** Image ids the `ancestor` values name. */
  ancestors: Set<string>;
  /** Created times (ms) of the containers `before`/`since` name. */
  before?: number;
  since?: number;
  /** The container's exposed ports (`80/tcp`), read only for an `expose` filter. */
  exposed?: (c: ContainerRecord) => string[];
}

/** `80`, `80/udp`, `8000-8010/tcp` → a test of a port and protocol. */
function portSpec(v: string, key: string): (port: number, proto: string) => boolean {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/.exec(v.trim());
  if (!m) throw badRequest(`invalid filter '${key}=${v}'`);
  const lo = Number(m[1]);
  const hi = m[2] ? Number(m[2]) : lo;
  const proto = m[3] ?? 'tcp';
  return (port, p) => port >= lo && port <= hi && p === proto;
}

/** Docker's `GET /containers/json` filters, every one `checkFilters` lets through. */
function matchesContainerFilters(c: ContainerRecord, row: SummaryView, filters: Filters, fc: ContainerFilterContext): boolean {
  const any = (key: string, test: (v: string) => boolean) => anyValue(filters, key, test);
  const networks = Object.entries(row.NetworkSettings.Networks);
  return (
    any('status', (v) => c.state.status === v) &&
    any('name', (v) => new RegExp(v).test(c.name) || new RegExp(v).test(`/${c.name}`)) &&
    any('id', (v) => c.id.startsWith(v)) &&
    any('ancestor', () => fc.ancestors.has(c.imageId)) &&
    any('exited', (v) => c.state.status === 'exited' && c.state.exitCode === Number(v)) &&
    (filters.get('label') ?? []).every((spec) => matchLabel(c.options.labels, spec)) &&
    (fc.before === undefined || Date.parse(c.created) < fc.before) &&
    (fc.since === undefined || Date.parse(c.created) > fc.since) &&
    any('network', (v) => networks.some(([name, e]) => name === v || (e.NetworkID !== undefined && e.NetworkID !== '' && e.NetworkID.startsWith(v)))) &&
    any('volume', (v) => row.Mounts.some((m) => m.Name === v || m.Destination === v || m.Source === v)) &&
    any('health', (v) => (c.health?.Status ?? 'none') === v) &&
    // tbuild runs no swarm tasks
    any('is-task', (v) => v !== 'true' && v !== '1') &&
    any('publish', (v) => {
      const ok = portSpec(v, 'publish');
      return row.Ports.some((p) => p.PublicPort !== undefined && ok(p.PublicPort, p.Type));
    }) &&
    any('expose', (v) => {
      const ok = portSpec(v, 'expose');
      return (fc.exposed?.(c) ?? []).some((e) => {
        const [port, proto = 'tcp'] = e.split('/');
        return ok(Number(port), proto);
      });
    })
  );
}

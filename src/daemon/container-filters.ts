import type { ContainerRecord } from '../containers/types.js';
import { badRequest, matchLabel } from './http.js';

/** What a summary row shows that the filters read (Docker's `GET /containers/json` shape). */
interface SummaryView {
  NetworkSettings: { Networks: Record<string, { NetworkID?: string }> };
  Mounts: Array<{ Name?: string; Source?: string; Destination?: string }>;
  Ports: Array<{ PrivatePort: number; PublicPort?: number; Type: string }>;
}

export interface ContainerFilterContext {
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
export function matchesContainerFilters(c: ContainerRecord, row: SummaryView, filters: Map<string, string[]>, fc: ContainerFilterContext): boolean {
  const any = (key: string, test: (v: string) => boolean) => {
    const vals = filters.get(key);
    return !vals?.length || vals.some(test);
  };
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

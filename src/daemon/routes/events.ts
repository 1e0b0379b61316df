import type { Router } from '../router.js';
import type { DockerEvent, EventBus } from '../events.js';
import { parseEventTime } from '../events.js';
import { badRequest, checkFilters, matchLabel, parseFilters } from '../http.js';

function matches(e: DockerEvent, filters: Map<string, string[]>): boolean {
  const any = (key: string, test: (v: string) => boolean) => {
    const vals = filters.get(key);
    return !vals?.length || vals.some(test);
  };
  const attrs = e.Actor.Attributes;
  const actor = (v: string) => e.Actor.ID === v || e.Actor.ID.startsWith(v) || attrs.name === v;
  return (
    any('type', (v) => e.Type === v) &&
    any('event', (v) => e.Action === v || e.Action.startsWith(`${v}:`)) &&
    any('container', (v) => e.Type === 'container' && actor(v)) &&
    any('image', (v) => (e.Type === 'image' && actor(v)) || attrs.image === v) &&
    any('volume', (v) => e.Type === 'volume' && actor(v)) &&
    any('network', (v) => e.Type === 'network' && actor(v)) &&
    any('daemon', (v) => e.Type === 'daemon' && actor(v)) &&
    // plugins' and swarm's objects: tbuild sends none of their events, so such a filter matches nothing
    !['plugin', 'node', 'service', 'secret', 'config'].some((k) => filters.get(k)?.length) &&
    any('scope', (v) => e.scope === v) &&
    (filters.get('label') ?? []).every((spec) => matchLabel(attrs, spec))
  );
}

export function registerEventRoutes(router: Router, events: EventBus): void {
  router.add('GET', '/events', async (ctx) => {
    const filters = parseFilters(ctx.query);
    checkFilters(filters, ['type', 'event', 'container', 'image', 'volume', 'label', 'network', 'daemon', 'plugin', 'node', 'service', 'secret', 'config', 'scope']);
    let since: number | undefined;
    let until: number | undefined;
    try {
      const s = ctx.query.get('since');
      if (s) since = parseEventTime(s);
      const u = ctx.query.get('until');
      if (u) until = parseEventTime(u);
    } catch (err) {
      throw badRequest((err as Error).message);
    }
    const res = ctx.res;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    const send = (e: DockerEvent) => {
      if (until !== undefined && e.timeNano > until) return;
      if (matches(e, filters)) res.write(JSON.stringify(e) + '\n');
    };
    // Backlog and subscription happen in one synchronous step, so no event falls in between.
    if (since !== undefined) for (const e of events.since(since)) send(e);
    const unsubscribe = events.subscribe(send);
    const nowNs = Date.now() * 1e6;
    await new Promise<void>((resolve) => {
      if (until !== undefined && until <= nowNs) return resolve();
      ctx.signal.addEventListener('abort', () => resolve(), { once: true });
      ctx.shutdown.addEventListener('abort', () => resolve(), { once: true });
      if (until !== undefined) setTimeout(resolve, (until - nowNs) / 1e6);
    });
    unsubscribe();
    res.end();
  });
}

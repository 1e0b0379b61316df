import { describe, expect, test } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot } from '../support/tmp.js';
import { PROJECT_ROOT } from '../support/cli.js';
import { hasDocker } from './support/docker.js';
import { busyboxDaemon } from './support/busybox-daemon.js';
import { request } from './support/raw.js';

type Json = Record<string, any>;

/** What dockerd 26 answered for the same two containers (captured with the peer dockerd of ../shared/bench). */
const docker26 = (name: string): Json => (JSON.parse(readFileSync(join(PROJECT_ROOT, 'testdata', 'docker26', name), 'utf8')) as Json[])[0]!;
const keys = (o: Json | null | undefined) => Object.keys(o ?? {}).sort();

async function until(fn: () => Promise<boolean>, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 200))) if (await fn()) return;
  throw new Error('condition not met in time');
}

describe.runIf(hasDocker && isRoot)('volumes, healthchecks and inspect as Docker 26 has them', () => {
  const d = busyboxDaemon('tbv-');


  test('inspect has the keys dockerd 26 returns: a plain container, and one with volumes, limits and a healthcheck', async () => {
    const bindsrc = join(d.dir, 'bindsrc');
    await mkdir(bindsrc);
    expect((await d.docker(['create', '--name', 'plain', '--network', 'none', 'busybox:local', 'true'])).code).toBe(0);
    const full = await d.docker(['run', '-d', '--name', 'full', '--network', 'none', '-v', '/anon', '-v', 'named26:/n', '-v', `${bindsrc}:/b:ro`, '-m', '64m', '--cpus', '0.5', '--pids-limit', '20', '--health-cmd', 'true', '--health-interval', '1s', 'busybox:local', 'sleep', '100']);
    expect(full.code).toBe(0);
    await until(async () => (await d.docker(['inspect', '-f', '{{.State.Health.Status}}', 'full'])).stdout.trim() === 'healthy');
    const [plain, mine] = await Promise.all(['plain', 'full'].map(async (n) => (JSON.parse((await d.docker(['inspect', n])).stdout) as Json[])[0]!));
    const [p26, f26] = [docker26('inspect-plain.json'), docker26('inspect-full.json')];
    for (const [ours, theirs] of [[plain, p26], [mine, f26]] as const) {
      expect(keys(ours)).toEqual(keys(theirs));
      expect(keys(ours!.HostConfig)).toEqual(keys(theirs.HostConfig));
      expect(keys(ours!.Config)).toEqual(keys(theirs.Config));
      expect(keys(ours!.State)).toEqual(keys(theirs.State));
    }
    // Docker's defaults where tbuild sets nothing, and the values the flags set
    for (const k of ['LogConfig', 'RestartPolicy', 'ConsoleSize', 'CgroupnsMode', 'IpcMode', 'ShmSize', 'Runtime', 'MaskedPaths', 'ReadonlyPaths', 'BlkioWeightDevice', 'Devices', 'Ulimits', 'MemorySwappiness', 'PidsLimit']) {
      expect([k, plain.HostConfig[k]]).toEqual([k, p26.HostConfig[k]]);
    }
    for (const k of ['Memory', 'NanoCpus', 'PidsLimit']) expect([k, mine.HostConfig[k]]).toEqual([k, f26.HostConfig[k]]);
    // the Docker CLI keeps -v specs in a map: their order in Binds varies from run to run
    expect([...mine.HostConfig.Binds].sort()).toEqual([`${bindsrc}:/b:ro`, 'named26:/n'].sort());
    expect(mine.Config.Volumes).toEqual({ '/anon': {} });
    expect(mine.Config.Healthcheck).toEqual(f26.Config.Healthcheck);
    expect(keys(mine.State.Health)).toEqual(keys(f26.State.Health));
    expect(keys(mine.State.Health.Log[0])).toEqual(keys(f26.State.Health.Log[0]));
    // .Mounts: the same entries, field for field (paths and generated names aside)
    const shape = (m: Json) => ({ ...m, Source: m.Type === 'bind' ? 'bind-source' : 'volume-path', ...(m.Name && m.Destination === '/anon' ? { Name: 'generated' } : {}) });
    const byDest = (ms: Json[]) => Object.fromEntries(ms.map((m) => [m.Destination, shape(m)]));
    const ours = byDest(mine.Mounts);
    const theirs = byDest(f26.Mounts);
    expect(ours).toEqual(theirs);
    expect(mine.Mounts.find((m: Json) => m.Destination === '/n').Source).toBe(join(d.root, 'volumes', 'named26', '_data'));
  }, 60_000);

  test('a healthcheck goes healthy, then unhealthy after its retries; ps, inspect and events follow', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const r = await d.docker(['run', '-d', '--name', 'hc', '--health-cmd', 'test -f /tmp/ok && echo fine', '--health-interval', '300ms', '--health-retries', '2', 'busybox:local', 'sh', '-c', 'touch /tmp/ok; sleep 2; rm /tmp/ok; sleep 100']);
    expect(r.code).toBe(0);
    await until(async () => (await d.docker(['ps', '--filter', 'name=hc', '--format', '{{.Status}}'])).stdout.includes('(healthy)'));
    const healthy = JSON.parse((await d.docker(['inspect', '-f', '{{json .State.Health}}', 'hc'])).stdout) as Json;
    expect(healthy.Status).toBe('healthy');
    expect(healthy.Log.at(-1)).toMatchObject({ ExitCode: 0, Output: 'fine\n' });
    await until(async () => (await d.docker(['ps', '--filter', 'name=hc', '--format', '{{.Status}}'])).stdout.includes('(unhealthy)'));
    const sick = JSON.parse((await d.docker(['inspect', '-f', '{{json .State.Health}}', 'hc'])).stdout) as Json;
    expect(sick.FailingStreak).toBeGreaterThanOrEqual(2);
    expect(sick.Log.length).toBeLessThanOrEqual(5);
    expect(sick.Log.at(-1).ExitCode).toBe(1);
    const events = async () => (await d.docker(['events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000)), '--filter', 'container=hc', '--format', '{{.Action}}'])).stdout;
    // the event follows the state change within the monitor's poll
    await until(async () => (await events()).includes('health_status: unhealthy\n'));
    expect(await events()).toContain('health_status: healthy\n');
    // an image's HEALTHCHECK is used, and --no-healthcheck switches it off
    const ctx = join(d.dir, 'hcimg');
    await mkdir(ctx);
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:local\nHEALTHCHECK --interval=300ms CMD true\n');
    expect((await d.docker(['build', '-q', '-t', 'hcimg', ctx])).code).toBe(0);
    expect((await d.docker(['run', '-d', '--name', 'hcimg', 'hcimg', 'sleep', '100'])).code).toBe(0);
    await until(async () => (await d.docker(['inspect', '-f', '{{.State.Health.Status}}', 'hcimg'])).stdout.trim() === 'healthy');
    expect((await d.docker(['run', '-d', '--name', 'nohc', '--no-healthcheck', 'hcimg', 'sleep', '100'])).code).toBe(0);
    expect((await d.docker(['inspect', '-f', '{{json .State.Health}} {{json .Config.Healthcheck.Test}}', 'nohc'])).stdout.trim()).toBe('null ["NONE"]');
    const bad = await request(d.socket, 'POST', '/containers/create', JSON.stringify({ Image: 'busybox:local', Healthcheck: { Test: ['CMD', 'true'], Interval: 10 } }), { 'Content-Type': 'application/json' });
    expect(bad.status).toBe(400);
    expect(bad.body.toString()).toContain('Interval in Healthcheck cannot be less than 1ms');
  }, 90_000);

  test('-v /anon is an anonymous volume (gone with rm -v); a missing -v host dir is made; --mount refuses one; --volumes-from; tmpfs size', async () => {
    const made = join(d.dir, 'made', 'deep');
    const run = await d.docker(['run', '--name', 'anon', '-v', '/anon', '-v', `${made}:/m`, 'busybox:local', 'sh', '-c', 'echo a > /anon/f; echo m > /m/f']);
    expect(run.code).toBe(0);
    expect(readFileSync(join(made, 'f'), 'utf8')).toBe('m\n');
    const vol = (await d.docker(['inspect', '-f', '{{range .Mounts}}{{if eq .Destination "/anon"}}{{.Name}}{{end}}{{end}}', 'anon'])).stdout.trim();
    expect(vol).toMatch(/^[0-9a-f]{64}$/);
    const from = await d.docker(['run', '--rm', '--volumes-from', 'anon:ro', 'busybox:local', 'sh', '-c', 'cat /anon/f /m/f; touch /anon/x 2>/dev/null || echo read-only']);
    expect(from.stdout).toBe('a\nm\nread-only\n');
    expect((await d.docker(['volume', 'ls', '-q', '--filter', 'dangling=false'])).stdout).toContain(vol);
    expect((await d.docker(['rm', '-v', 'anon'])).code).toBe(0);
    expect(existsSync(join(d.root, 'volumes', vol))).toBe(false);
    const missing = await d.docker(['run', '--rm', '--mount', `type=bind,src=${join(d.dir, 'nothere')},dst=/x`, 'busybox:local', 'true']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('bind source path does not exist');
    const tmpfs = await d.docker(['run', '--rm', '--mount', 'type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=0700', 'busybox:local', 'sh', '-c', 'stat -c %a /t; grep " /t " /proc/mounts']);
    expect(tmpfs.stdout).toMatch(/^700\n.*size=1024k/);
    const nocopy = await d.docker(['run', '--rm', '--mount', 'type=bind,src=/tmp,dst=/x,bind-nonrecursive', 'busybox:local', 'true']);
    expect(nocopy.code).not.toBe(0);
    expect(nocopy.stderr).toContain('is not supported by tbuild');
  }, 60_000);

  test('volume prune: label filters, -a for named volumes, and the bytes it freed', async () => {
    for (const [name, label] of [['keep1', 'keep=yes'], ['drop1', 'keep=no'], ['drop2', 'other=1']]) {
      expect((await d.docker(['volume', 'create', '--label', label!, name!])).code).toBe(0);
    }
    expect((await d.docker(['run', '--rm', '-v', 'drop1:/v', 'busybox:local', 'sh', '-c', 'head -c 5000 /dev/zero > /v/f'])).code).toBe(0);
    const p = await d.docker(['volume', 'prune', '-a', '-f', '--filter', 'label=keep=no']);
    expect(p.stdout).toContain('drop1');
    expect(p.stdout).not.toContain('keep1');
    expect(p.stdout).not.toContain('drop2');
    expect(p.stdout).toContain('Total reclaimed space: 5kB');
    const left = (await d.docker(['volume', 'ls', '-q'])).stdout;
    expect(left).toContain('keep1');
    expect(left).toContain('drop2');
    const neg = await d.docker(['volume', 'prune', '-a', '-f', '--filter', 'label!=keep']);
    expect(neg.stdout).toContain('drop2');
    expect(neg.stdout).not.toContain('keep1');
  }, 60_000);
});

import { describe, test, expect, beforeEach, afterEach } from 'vitest';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { tempDir, isRoot, mountsUnder } from '../support/tmp.js';
import { uniqueBridge, networkLeftovers, leasesOf } from '../support/network.js';
import { openNetworkManager, type NetavarkNetworks } from '../../src/network/manager.js';
import { isTbuildError } from '../../src/errors.js';

function inNetns(path: string, cmd: string[]): string {
  return execFileSync('nsenter', [`--net=${path}`, ...cmd], { encoding: 'utf8' });
}

describe.runIf(isRoot)('network manager (netavark)', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let b: { bridge: string; subnet: string };
  let nets: NetavarkNetworks;

  beforeEach(async () => {
    tmp = await tempDir('tbn-');
    b = uniqueBridge();
    nets = await openNetworkManager({ root: tmp.path, ...b });
  });

  afterEach(async () => {
    await nets.close();
    expect(networkLeftovers(tmp.path, b)).toEqual([]);
    expect(leasesOf(tmp.path)).toEqual([]);
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  });

  test('attach plumbs a namespace on the default bridge with a route out; release removes everything', async () => {
    const a = await nets.attach({ id: 'ctr1', name: 'one', networks: [{ network: 'bridge' }] });
    try {
      expect(a.endpoints).toHaveLength(1);
      const prefix = b.subnet.replace(/0\/24$/, '');
      expect(a.endpoints[0]!.ipAddress).toBe(`${prefix}2`);
      expect(a.endpoints[0]!.gateway).toBe(`${prefix}1`);
      expect(a.endpoints[0]!.macAddress).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
      expect(inNetns(a.netnsPath, ['ip', '-br', 'addr'])).toContain(`${prefix}2/24`);
      expect(inNetns(a.netnsPath, ['ip', 'route'])).toContain(`default via ${prefix}1`);
      expect(execFileSync('ip', ['-br', 'link'], { encoding: 'utf8' })).toContain(b.bridge);
      // a second attachment gets the next address
      const a2 = await nets.attach({ id: 'ctr2', name: 'two', networks: [{ network: 'bridge' }] });
      try {
        expect(a2.endpoints[0]!.ipAddress).toBe(`${prefix}3`);
        // host → container over the bridge
        execFileSync('busybox', ['ping', '-c', '1', '-W', '5', a2.endpoints[0]!.ipAddress]);
      } finally {
        await a2.release();
      }
      expect((await nets.status('ctr1'))?.endpoints[0]!.ipAddress).toBe(`${prefix}2`);
      expect(await nets.status('ctr2')).toBeUndefined();
    } finally {
      await a.release();
    }
    await a.release(); // idempotent
  });

  test("RUN namespaces come from a per-process pool and go at close", async () => {
    const a = await nets.acquireDefault();
    const path = a.netnsPath;
    await a.release();
    expect(existsSync(path)).toBe(true);
    const again = await nets.acquireDefault();
    expect(again.netnsPath).toBe(path);
    await again.release();
    await nets.close();
    expect(existsSync(path)).toBe(false);
  });

  test('prewarm makes the first RUN namespace ahead; close({ detach }) hands the idle ones to a helper that releases them', async () => {
    nets.prewarm();
    const dir = join(tmp.path, 'network', 'netns');
    // the set-up is under way before any step asks
    for (let i = 0; i < 100 && !(existsSync(dir) && readdirSync(dir).length); i++) await new Promise((r) => setTimeout(r, 20));
    expect(readdirSync(dir)).toHaveLength(1);
    const a = await nets.acquireDefault();
    expect(readdirSync(dir)).toEqual([basename(a.netnsPath)]);
    await a.release();
    await nets.close({ detach: true });
    // the helper owns the record now, and releases it after this process moved on
    const rec = JSON.parse(readFileSync(join(tmp.path, 'network', 'attachments', `${basename(a.netnsPath)}.json`), 'utf8').toString()) as { owner: string };
    expect(Number(rec.owner.split(' ')[0])).not.toBe(process.pid);
    for (let i = 0; i < 150 && existsSync(a.netnsPath); i++) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(a.netnsPath)).toBe(false);
  });

  test('a release helper killed before it finished leaves records the next reconcile releases', async () => {
    const a = await nets.acquireDefault();
    await a.release();
    const handed = await import('../../src/network/attachments.js');
    const child = spawn('sleep', ['600'], { stdio: 'ignore' });
    await new Promise((r) => child.once('spawn', r));
    // what close({ detach }) does first: the record names the helper
    const layout = { records: join(tmp.path, 'network', 'attachments') } as Parameters<typeof handed.handOver>[0];
    await handed.handOver(layout, basename(a.netnsPath), child.pid!);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(await nets.reconcile()).toEqual([basename(a.netnsPath)]);
    expect(existsSync(a.netnsPath)).toBe(false);
    // the pool still lists it; closing must not fail on a namespace another process released
    await nets.close();
  });

  test('reconcile releases what a killed owner held', async () => {
    const child = spawn('sleep', ['600'], { stdio: 'ignore' });
    await new Promise((r) => child.once('spawn', r));
    const a = await nets.attach({ id: 'orphan', name: 'orphan', networks: [{ network: 'bridge' }], ownerPid: child.pid! });
    expect(await nets.reconcile()).toEqual([]); // owner alive: kept
    expect(existsSync(a.netnsPath)).toBe(true);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(await nets.reconcile()).toEqual(['orphan']);
    expect(existsSync(a.netnsPath)).toBe(false);
  });

  test('a namespace that vanished before its owner died: reconcile still takes down the bridge and its rules', async () => {
    const child = spawn('sleep', ['600'], { stdio: 'ignore' });
    await new Promise((r) => child.once('spawn', r));
    const a = await nets.attach({ id: 'vanished', name: 'vanished', networks: [{ network: 'bridge' }], ownerPid: child.pid! });
    expect(execFileSync('ip', ['-br', 'link'], { encoding: 'utf8' })).toContain(b.bridge);
    // someone else unmounts and removes the namespace (a host cleanup, a lost mount)
    execFileSync('umount', [a.netnsPath]);
    execFileSync('rm', ['-f', a.netnsPath]);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(await nets.reconcile()).toEqual(['vanished']);
    // (afterEach: no bridge, no rules, no leases, no mounts left)
    expect(execFileSync('ip', ['-br', 'link'], { encoding: 'utf8' })).not.toContain(b.bridge);
  });

  test('a fixed address that is taken, and an unknown network, fail with nothing left', async () => {
    const prefix = b.subnet.replace(/0\/24$/, '');
    const a = await nets.attach({ id: 'fixed', name: 'fixed', networks: [{ network: 'bridge', ip: `${prefix}77` }] });
    expect(a.endpoints[0]!.ipAddress).toBe(`${prefix}77`);
    const err = await nets.attach({ id: 'clash', name: 'clash', networks: [{ network: 'bridge', ip: `${prefix}77` }] }).catch((e: unknown) => e);
    expect(isTbuildError(err, 'TB_INVALID_ARGUMENT')).toBe(true);
    expect(await nets.status('clash')).toBeUndefined();
    const missing = await nets.attach({ id: 'nonet', name: 'x', networks: [{ network: 'nope' }] }).catch((e: unknown) => e);
    expect(isTbuildError(missing, 'TB_NETWORK_NOT_FOUND')).toBe(true);
    await a.release();
  });
});

import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, isRoot, mountsUnder } from '../../support/tmp.js';
import { runCli, BUSYBOX_TAR, PROJECT_ROOT } from '../../support/cli.js';
import { spawnPty } from '../../support/pty.js';
import { runcContainers } from '../../exec/support/rootfs.js';
import { statsRow } from '../../../src/cli/commands/container-live.js';
import type { ContainerRecord, StatsSample } from '../../../src/containers/types.js';

const hasScript = existsSync('/usr/bin/script');

function sample(cpu: number, system: number, extra: Partial<StatsSample> = {}): StatsSample {
  return {
    read: '2026-01-01T00:00:00Z',
    pids_stats: { current: 4 },
    blkio_stats: { io_service_bytes_recursive: [{ major: 8, minor: 0, op: 'Read', value: 2000 }, { major: 8, minor: 0, op: 'Write', value: 3000 }], io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null, io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: { cpu_usage: { total_usage: cpu, usage_in_kernelmode: 0, usage_in_usermode: 0 }, system_cpu_usage: system, online_cpus: 2, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } },
    memory_stats: { usage: 10 * 1024 * 1024, limit: 64 * 1024 * 1024, stats: { total_inactive_file: 2 * 1024 * 1024 } },
    networks: { eth0: { rx_bytes: 1500, rx_packets: 1, rx_errors: 0, rx_dropped: 0, tx_bytes: 500, tx_packets: 1, tx_errors: 0, tx_dropped: 0 } },
    ...extra,
  };
}

describe('stats rows', () => {
  test("the Docker CLI's formulas: CPU % over the delta, memory without inactive file cache, I/O totals", () => {
    const c = { id: 'a'.repeat(64), name: 'web' } as ContainerRecord;
    expect(statsRow(c, sample(1e9, 100e9), sample(1.5e9, 101e9))).toEqual({
      ID: 'aaaaaaaaaaaa',
      Container: 'web',
      Name: 'web',
      CPUPerc: '100.00%',
      MemUsage: '8MiB / 64MiB',
      MemPerc: '12.50%',
      NetIO: '1.5kB / 500B',
      BlockIO: '2kB / 3kB',
      PIDs: '4',
    });
    expect(statsRow(c, sample(0, 0), { ...sample(0, 0), read: '0001-01-01T00:00:00Z' }).CPUPerc).toBe('--');
  });
});

describe.runIf(isRoot)('tbuild attach, stats, update, exec -t, run -it (embedded engine)', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let root: string;
  const cli = (args: string[]) => runCli(args, { root });

  beforeAll(async () => {
    tmp = await tempDir('tblive-');
    root = join(tmp.path, 'state');
    expect((await cli(['load', '-i', BUSYBOX_TAR])).code).toBe(0);
  });

  afterAll(async () => {
    const left = await cli(['ps', '-a', '-q', '--no-trunc']);
    for (const id of left.stdout.split('\n').filter(Boolean)) await cli(['rm', '-f', id]);
    expect(await runcContainers(join(root, 'runc'))).toEqual([]);
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  }, 60_000);

  test('stats --no-stream and update', async () => {
    expect((await cli(['run', '-d', '--name', 'lv', '-m', '64m', 'busybox:local', 'sleep', '300'])).code).toBe(0);
    const s = await cli(['stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}} {{.PIDs}}', 'lv']);
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(/^lv [\d.]+[KM]iB \/ 64MiB 1\n$/);
    const u = await cli(['update', '--memory', '96m', '--restart', 'always', 'lv']);
    expect(u).toMatchObject({ code: 0, stdout: 'lv\n' });
    expect((await cli(['stats', '--no-stream', '--format', '{{.MemUsage}}', 'lv'])).stdout).toMatch(/\/ 96MiB\n$/);
    expect((await cli(['inspect', '-f', '{{.HostConfig.RestartPolicy.Name}}', 'lv'])).stdout).toBe('always\n');
    const badKeys = await cli(['run', '-d', '--detach-keys', 'ctrl-!', 'busybox:local', 'true']);
    expect(badKeys.code).not.toBe(0);
    expect(badKeys.stderr).toContain('Invalid detach keys (ctrl-!)');
    const none = await cli(['update', 'lv']);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain('provide one or more flags');
  }, 60_000);

  test('attach gets a running container\'s later output and its exit status', async () => {
    expect((await cli(['run', '-d', '--name', 'late', 'busybox:local', 'sh', '-c', 'sleep 4; echo late; exit 4'])).code).toBe(0);
    expect(await cli(['attach', 'late'])).toMatchObject({ code: 4, stdout: 'late\n' });
  }, 60_000);

  test.runIf(hasScript)('run -it in a terminal: raw mode (no double echo), the size, Ctrl-P Ctrl-Q detaches; exec -it too', async () => {
    const env = { ...process.env, TBUILD_ROOT: root };
    const tbuild = [process.execPath, '--import', 'tsx', join(PROJECT_ROOT, 'src', 'cli.ts')];
    const t = spawnPty([...tbuild, 'run', '-it', '--name', 'ti', 'busybox:local', 'sh'], { env, rows: 31, cols: 101 });
    try {
      await t.waitFor(/# /, 30_000);
      t.type('echo "one $((40+2))"; stty size\r');
      await t.waitFor(/one 42\r+\n31 101/);
      // the command line echoed once, by the container's terminal only
      expect(t.output().split('echo "one $((40+2))"').length).toBe(2);
      t.type('\x10\x11');
      expect(await t.exited).toBe(0);
    } finally {
      t.kill();
    }
    expect((await cli(['inspect', '-f', '{{.State.Status}}', 'ti'])).stdout).toBe('running\n');
    const e = spawnPty([...tbuild, 'exec', '-it', 'ti', 'sh'], { env, rows: 20, cols: 70 });
    try {
      await e.waitFor(/# /, 30_000);
      e.type('stty size; echo "T=$TERM"\r');
      await e.waitFor(/20 70\r+\nT=xterm/);
      e.type('exit 3\r');
      expect(await e.exited).toBe(3);
    } finally {
      e.kill();
    }
  }, 90_000);
});

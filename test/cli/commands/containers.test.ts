import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { mkdir, writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, isRoot, mountsUnder } from '../../support/tmp.js';
import { runCli, BUSYBOX_TAR } from '../../support/cli.js';
import { runcContainers } from '../../exec/support/rootfs.js';
import { processesMentioning } from '../../containers/support/engine.js';
import { parseRestart, parseSize, parseVolume } from '../../../src/cli/commands/containers.js';

describe('run flag parsing', () => {
  test('sizes and volumes', () => {
    expect(parseSize('64m')).toBe(64 * 1024 * 1024);
    expect(parseSize('1g')).toBe(1024 ** 3);
    expect(parseSize('512')).toBe(512);
    expect(() => parseSize('lots')).toThrow('invalid size');
    expect(parseVolume('/h:/c:ro')).toEqual({ type: 'bind', source: '/h', target: '/c', readonly: true, createSource: true });
    expect(parseVolume('/h:/c:rshared')).toEqual({ type: 'bind', source: '/h', target: '/c', readonly: false, createSource: true, propagation: 'rshared' });
    expect(parseVolume('data:/c:nocopy')).toEqual({ type: 'volume', source: 'data', target: '/c', readonly: false, noCopy: true });
    expect(() => parseVolume('/h:/c:nocopy')).toThrow('nocopy applies to volumes');
    expect(() => parseVolume('data:/c:rshared')).toThrow('applies to bind mounts');
    expect(() => parseVolume('/h:/c:ro,rw')).toThrow('invalid mode');
    expect(parseVolume('data:/c')).toEqual({ type: 'volume', source: 'data', target: '/c', readonly: false });
    expect(parseVolume('/anon')).toEqual({ type: 'volume', source: '', target: '/anon', readonly: false });
  });

  test('restart policies', () => {
    expect(parseRestart('always')).toEqual({ name: 'always' });
    expect(parseRestart('on-failure:3')).toEqual({ name: 'on-failure', maximumRetryCount: 3 });
    expect(() => parseRestart('sometimes')).toThrow('invalid restart policy');
    expect(() => parseRestart('always:2')).toThrow('invalid restart policy');
  });
});

describe.runIf(isRoot)('tbuild run / ps / rm / logs / stop (CLI)', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let root: string;

  beforeAll(async () => {
    tmp = await tempDir('tbcli-');
    root = join(tmp.path, 'state');
    const r = await runCli(['load', '-i', BUSYBOX_TAR], { root });
    expect(r.code).toBe(0);
  });

  afterAll(async () => {
    const left = await runCli(['ps', '-a', '-q', '--no-trunc'], { root });
    for (const id of left.stdout.split('\n').filter(Boolean)) await runCli(['rm', '-f', id], { root });
    expect(await runcContainers(join(root, 'runc'))).toEqual([]);
    expect(await mountsUnder(tmp.path)).toEqual([]);
    for (let i = 0; i < 50 && (await processesMentioning(tmp.path)).length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await processesMentioning(tmp.path)).toEqual([]);
    await tmp.cleanup();
  });

  test('run --rm: CMD replaces the image Cmd, exact stdout and exit code, nothing left listed', async () => {
    const r = await runCli(['run', '--rm', 'busybox:local', 'sh', '-c', 'printf "a b\\n"; echo err >&2; exit 5'], { root });
    expect(r).toMatchObject({ code: 5, stdout: 'a b\n', stderr: 'err\n' });
    expect((await runCli(['ps', '-a', '-q'], { root })).stdout).toBe('');
  });

  test('run options: -e, -w, -u, --entrypoint, -v, --network, stdin with -i', async () => {
    const host = join(tmp.path, 'share');
    await mkdir(host, { recursive: true });
    await writeFile(join(host, 'f'), 'bound\n');
    const r = await runCli(
      ['run', '--rm', '-e', 'A=1', '-w', '/made', '-u', '123:456', '-v', `${host}:/mnt:ro`, '--network', 'none', 'busybox:local',
        'sh', '-c', 'echo $A; pwd; id -u; id -g; cat /mnt/f; ls /sys/class/net'],
      { root },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('1\n/made\n123\n456\nbound\nlo\n');
    const ep = await runCli(['run', '--rm', '--entrypoint', 'echo', 'busybox:local', 'x', 'y'], { root });
    expect(ep.stdout).toBe('x y\n');
    const cat = await runCli(['run', '--rm', '-i', 'busybox:local', 'cat'], { root, input: 'piped in\n' });
    expect(cat).toMatchObject({ code: 0, stdout: 'piped in\n' });
  });

  test('without --rm the container stays listed; rm removes it', async () => {
    const r = await runCli(['run', '--name', 'kept', 'busybox:local', 'echo', 'hi'], { root });
    expect(r).toMatchObject({ code: 0, stdout: 'hi\n' });
    const ps = await runCli(['ps', '-a'], { root });
    expect(ps.stdout).toMatch(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES\n/);
    expect(ps.stdout).toMatch(/busybox:local\s+"echo hi"\s+.*Exited \(0\).*kept\n/);
    expect((await runCli(['ps'], { root })).stdout).not.toMatch(/kept/);
    expect((await runCli(['logs', 'kept'], { root })).stdout).toBe('hi\n');
    expect(await runCli(['rm', 'kept'], { root })).toMatchObject({ code: 0, stdout: 'kept\n' });
    const gone = await runCli(['rm', 'kept'], { root });
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/No such container: kept/);
  });

  test('detached: -d prints the id; logs, stop, wait, start, kill', async () => {
    const d = await runCli(['run', '-d', '--name', 'bg', 'busybox:local', 'sh', '-c', 'trap "exit 9" TERM; echo up; while :; do sleep 0.1; done'], { root });
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(/^[a-f0-9]{64}\n$/);
    expect((await runCli(['ps', '-q'], { root })).stdout).toBe(d.stdout.slice(0, 12) + '\n');
    let logs = '';
    for (let i = 0; i < 50 && !logs; i++) logs = (await runCli(['logs', 'bg'], { root })).stdout;
    expect(logs).toBe('up\n');
    expect(await runCli(['stop', '-t', '5', 'bg'], { root })).toMatchObject({ code: 0, stdout: 'bg\n' });
    expect(await runCli(['wait', 'bg'], { root })).toMatchObject({ code: 0, stdout: '9\n' });
    expect((await runCli(['start', 'bg'], { root })).code).toBe(0);
    expect((await runCli(['kill', 'bg'], { root })).code).toBe(0);
    expect((await runCli(['wait', 'bg'], { root })).stdout).toBe('137\n');
    const tail = await runCli(['logs', '--tail', '1', 'bg'], { root });
    expect(tail.stdout).toBe('up\n');
    expect((await runCli(['rm', 'bg'], { root })).code).toBe(0);
  });

  test('an unknown image or user fails with Docker’s 125', async () => {
    const r = await runCli(['run', '--rm', '--pull', 'never', 'nosuch:image', 'true'], { root });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/No such image/);
    // By default a missing image is pulled first, as Docker does; docker.io is not reachable here.
    const p = await runCli(['run', '--rm', 'nosuch:image', 'true'], { root });
    expect(p.code).toBe(125);
    expect(p.stderr).toContain("Unable to find image 'nosuch:image' locally");
    const u = await runCli(['run', '--rm', '-u', 'nobody2', 'busybox:local', 'true'], { root });
    expect(u.code).toBe(125);
    expect(u.stderr).toMatch(/unable to find user nobody2: no matching entries in passwd file/);
    expect((await runCli(['ps', '-a', '-q'], { root })).stdout).toBe('');
    expect(await readFile(join(root, 'containers'), 'utf8').catch((e: NodeJS.ErrnoException) => e.code)).toBe('EISDIR');
  });

  test('volume create, ls, inspect; a volume outlives its container', async () => {
    expect((await runCli(['volume', 'create', 'cache1'], { root })).stdout).toBe('cache1\n');
    const w = await runCli(['run', '--rm', '-v', 'cache1:/c', 'busybox:local', 'sh', '-c', 'echo kept > /c/f'], { root });
    expect(w.code).toBe(0);
    const r = await runCli(['run', '--rm', '-v', 'cache1:/c:ro', 'busybox:local', 'cat', '/c/f'], { root });
    expect(r.stdout).toBe('kept\n');
    expect((await runCli(['volume', 'ls', '-q'], { root })).stdout).toBe('cache1\n');
    const info = JSON.parse((await runCli(['volume', 'inspect', 'cache1'], { root })).stdout) as Array<{ Name: string; Mountpoint: string }>;
    expect(info[0]!.Mountpoint).toBe(join(root, 'volumes', 'cache1', '_data'));
    expect(await runCli(['volume', 'rm', 'cache1'], { root })).toMatchObject({ code: 0, stdout: 'cache1\n' });
  });
});

import { describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import { isRoot } from '../support/tmp.js';
import { hasDocker, ttyText } from './support/docker.js';
import { busyboxDaemon } from './support/busybox-daemon.js';
import { request } from './support/raw.js';

/** What dockerd adds to every container, and Docker's exit codes for commands that cannot run. */
describe.runIf(hasDocker && isRoot)('container run-time files and exit codes', () => {
  const d = busyboxDaemon('tbf-');


  test('/.dockerenv and /etc/mtab → /proc/mounts exist, `df` works, and none of it is a change of the container', async () => {
    const r = await d.docker(['run', '--name', 'files', 'busybox:local', 'sh', '-c', 'test -f /.dockerenv && readlink /etc/mtab && df / >/dev/null && echo df-ok']);
    expect(r).toMatchObject({ code: 0, stdout: '/proc/mounts\ndf-ok\n' });
    // Docker keeps them in the init layer: not in `docker diff`, not in a commit
    expect((await d.docker(['diff', 'files'])).stdout).toBe('');
    expect((await d.docker(['commit', 'files', 'files:1'])).code).toBe(0);
    const saved = join(d.dir, 'files.tar');
    expect((await d.docker(['save', '-o', saved, 'files:1'])).code).toBe(0);
    const manifest = JSON.parse(execFileSync('tar', ['-xOf', saved, 'manifest.json']).toString()) as Array<{ Layers: string[] }>;
    const top = manifest[0]!.Layers.at(-1)!;
    expect(execFileSync('sh', ['-c', `tar -xOf "$0" "$1" | tar -t`, saved, top]).toString()).toBe('');
    // a container's own change still shows
    await d.docker(['run', '--name', 'files2', 'busybox:local', 'sh', '-c', 'echo x > /etc/new']);
    expect((await d.docker(['diff', 'files2'])).stdout).toBe('C /etc\nA /etc/new\n');
  }, 60_000);

  test('exec: 127 for a command not found, 126 for one that cannot be invoked, the command\'s own status otherwise', async () => {
    expect((await d.docker(['run', '-d', '--name', 'target', 'busybox:local', 'sleep', '300'])).code).toBe(0);
    const missing = await d.docker(['exec', 'target', 'no-such-command']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain('executable file not found');
    const notExec = await d.docker(['exec', 'target', '/etc/passwd']);
    expect(notExec.code).toBe(126);
    expect(notExec.stderr).toContain('permission denied');
    expect((await d.docker(['exec', 'target', 'sh', '-c', 'exit 255'])).code).toBe(255);
    expect(ttyText((await d.docker(['exec', '-t', 'target', 'sh', '-c', 'echo $TERM'])).stdout)).toBe('xterm\r\n');
    expect((await d.docker(['exec', 'target', 'sh', '-c', 'echo "[$TERM]"'])).stdout).toBe('[]\n');
    // once runc has set up both ptys, each newline reaches the client as CR-LF exactly once
    expect((await d.docker(['exec', '-t', 'target', 'sh', '-c', 'sleep 0.3; printf "a\\nb\\n"'])).stdout).toBe('a\r\nb\r\n');
  }, 60_000);

  test('run: 127 and 126 as Docker', async () => {
    expect((await d.docker(['run', '--rm', 'busybox:local', 'no-such-command'])).code).toBe(127);
    expect((await d.docker(['run', '--rm', 'busybox:local', '/etc/passwd'])).code).toBe(126);
    expect(ttyText((await d.docker(['run', '--rm', '-t', 'busybox:local', 'sh', '-c', 'echo $TERM'])).stdout)).toBe('xterm\r\n');
    expect(ttyText((await d.docker(['run', '--rm', '-t', '-e', 'TERM=vt100', 'busybox:local', 'sh', '-c', 'echo $TERM'])).stdout)).toBe('vt100\r\n');
    expect((await d.docker(['run', '--rm', '-t', 'busybox:local', 'sh', '-c', 'sleep 0.3; printf "a\\nb\\n"'])).stdout).toBe('a\r\nb\r\n');
  }, 60_000);

  test('--stop-signal and --stop-timeout are kept and used; Config fields tbuild does not carry out are refused; cp names what is missing; logs --details', async () => {
    const r = await d.docker(['run', '-d', '--name', 'stopper', '--stop-signal', 'SIGINT', '--stop-timeout', '3', 'busybox:local', 'sh', '-c', 'trap "echo got-int; exit 0" INT; while :; do sleep 0.1; done']);
    expect(r.code).toBe(0);
    expect((await d.docker(['inspect', '-f', '{{.Config.StopSignal}} {{.Config.StopTimeout}}', 'stopper'])).stdout).toBe('SIGINT 3\n');
    expect((await d.docker(['stop', 'stopper'])).code).toBe(0);
    expect((await d.docker(['logs', 'stopper'])).stdout).toBe('got-int\n');
    expect((await d.docker(['inspect', '-f', '{{.State.ExitCode}}', 'stopper'])).stdout).toBe('0\n');
    const refused = await d.docker(['run', '--rm', '--domainname', 'example.org', 'busybox:local', 'true']);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toContain('Domainname is not supported by tbuild');
    const cp = await d.docker(['cp', 'stopper:/no/such/file', join(d.dir, 'out')]);
    expect(cp.code).not.toBe(0);
    expect(cp.stderr).toContain('Could not find the file /no/such/file in container stopper');
    expect((await d.docker(['logs', '--details', 'stopper'])).stdout).toBe(' got-int\n');
    // a negative stop timeout waits for the signal to work, however long: no SIGKILL after 2 s
    expect((await d.docker(['run', '-d', '--name', 'patient', '--stop-timeout', '-1', 'busybox:local', 'sh', '-c', 'trap "" TERM; while :; do sleep 0.1; done'])).code).toBe(0);
    const stopping = d.docker(['stop', 'patient']);
    await new Promise((r) => setTimeout(r, 2500));
    expect((await d.docker(['inspect', '-f', '{{.State.Status}}', 'patient'])).stdout).toBe('running\n');
    expect((await d.docker(['kill', 'patient'])).code).toBe(0);
    expect((await stopping).code).toBe(0);
  }, 60_000);

  test('sizes as Docker reports them: a 6-byte COPY is a 6B layer; the image is its files, not its tars', async () => {
    const ctx = join(d.dir, 'six');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'six.txt'), 'hello\n');
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:local\nCOPY six.txt /six.txt\n');
    expect((await d.docker(['build', '-q', '-t', 'six', ctx])).code).toBe(0);
    const rows = (await d.docker(['history', '--format', '{{.CreatedBy}}|{{.Size}}', 'six'])).stdout.trim().split('\n');
    expect(rows[0]).toMatch(/COPY .*six.txt.*\|6B$/);
    const bytes = async (ref: string) => Number((await d.docker(['image', 'inspect', '-f', '{{.Size}}', ref])).stdout);
    expect((await bytes('six')) - (await bytes('busybox:local'))).toBe(6);
    // the build left its record, served at tbuild's own endpoint
    const list = (await request(d.socket, 'GET', '/tbuild/builds')).json<Array<{ id: string; status: string; stepsTotal: number }>>();
    expect(list[0]).toMatchObject({ status: 'completed' });
    const rec = (await request(d.socket, 'GET', `/tbuild/builds/${list[0]!.id}`)).json<{ tags: string[]; steps: Array<{ name: string }> }>();
    expect(rec.tags).toEqual(['six']);
    expect(rec.steps.some((st) => st.name.includes('COPY'))).toBe(true);
    expect((await request(d.socket, 'GET', '/tbuild/builds/nope1234')).status).toBe(404);
    // containers and volumes too: the bytes written, not the blocks they take
    expect((await d.docker(['run', '--name', 'writer', '-v', 'sized:/v', 'busybox:local', 'sh', '-c', 'echo 12345 > /f; head -c 3000 /dev/zero > /v/f'])).code).toBe(0);
    expect((await d.docker(['ps', '-a', '-s', '--filter', 'name=writer', '--format', '{{.Size}}'])).stdout).toMatch(/^6B \(virtual [\d.]+MB\)\n$/);
    const df = JSON.parse((await d.docker(['system', 'df', '-v', '--format', '{{json .}}'])).stdout) as { Volumes: Array<{ Name: string; Size: string }> };
    expect(df.Volumes.find((v) => v.Name === 'sized')?.Size).toBe('3kB');
  }, 60_000);
});

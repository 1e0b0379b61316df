import { describe, expect, test } from 'vitest';
import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { isRoot } from '../support/tmp.js';
import { spawnPty } from '../support/pty.js';
import { hasDocker } from './support/docker.js';
import { busyboxDaemon } from './support/busybox-daemon.js';
import { request } from './support/raw.js';

const hasScript = existsSync('/usr/bin/script');

/** A hijacked attach over the raw socket, as a client that sends its own detach keys would. */
async function rawAttach(socket: string, id: string, query: string): Promise<{ sock: Socket; output: () => string; closed: Promise<void> }> {
  const sock = connect(socket);
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  let out = '';
  sock.on('data', (d: Buffer) => (out += d.toString()));
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  sock.write(`POST /containers/${id}/attach?stream=1&stdin=1&stdout=1&stderr=1&${query} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n`);
  for (let i = 0; i < 100 && !out.includes('\r\n\r\n'); i++) await new Promise((r) => setTimeout(r, 50));
  expect(out).toMatch(/^HTTP\/1.1 101/);
  return { sock, output: () => out, closed };
}

/** The stock Docker CLI in a real terminal against `tbuild daemon`: sizes, resizes, TERM, detaching. */
describe.runIf(hasDocker && isRoot && hasScript)('terminals through the Docker CLI', () => {
  const d = busyboxDaemon('tbt-');
  const env = () => ({ PATH: process.env.PATH ?? '', HOME: join(d.dir, 'docker-config'), DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.dir, 'docker-config'), DOCKER_CLI_HINTS: 'false' });
  const status = async (name: string) => (await d.docker(['inspect', '-f', '{{.State.Status}}', name])).stdout.trim();


  test('run -it: the terminal size, TERM=xterm, a resize reaches the process, Ctrl-P Ctrl-Q detaches', async () => {
    const t = spawnPty(['docker', 'run', '-it', '--name', 'term1', 'busybox:local', 'sh'], { env: env(), rows: 30, cols: 100 });
    try {
      await t.waitFor(/# /);
      t.type('stty size; echo "T=$TERM"\r');
      await t.waitFor(/30 100\r\nT=xterm/);
      // SIGWINCH reaches the shell: its trap (run between the loop's commands) reports the new size
      t.type("trap 'echo winch-$(stty size | tr \" \" x)' WINCH; while :; do sleep 0.1; done\r");
      await new Promise((r) => setTimeout(r, 500));
      t.resize(40, 120);
      await t.waitFor(/winch-\d+x\d+/);
      t.type('\x03');
      await t.waitFor(/\^C\r\n\/ # /);
      // the size travels CLI → daemon → runc asynchronously, as with Docker: ask until it landed
      for (let i = 0; i < 20 && !/\r\n40 120\r\n/.test(t.output()); i++) {
        t.type('stty size\r');
        await new Promise((r) => setTimeout(r, 300));
      }
      expect(t.output()).toMatch(/\r\n40 120\r\n/);
      t.type('\x10\x11');
      expect(await t.exited).toBe(0);
    } finally {
      t.kill();
    }
    expect(await status('term1')).toBe('running');
    // attach again, type, detach again: still running, and what was typed ran
    const a = spawnPty(['docker', 'attach', 'term1'], { env: env() });
    try {
      a.type('echo again-$((6*7))\r');
      await a.waitFor(/again-42/);
      a.type('\x10\x11');
      await a.exited;
      expect(a.output()).toContain('read escape sequence');
    } finally {
      a.kill();
    }
    expect(await status('term1')).toBe('running');
  }, 90_000);

  test('exec -it: its own size and resize; detaching leaves the exec process running', async () => {
    expect((await d.docker(['run', '-d', '--name', 'term2', 'busybox:local', 'sleep', '300'])).code).toBe(0);
    const t = spawnPty(['docker', 'exec', '-it', 'term2', 'sh'], { env: env(), rows: 33, cols: 90 });
    try {
      await t.waitFor(/# /);
      t.type('stty size; echo "E=$TERM"\r');
      // a line may end in a bare \n: the shell can still be restoring the terminal's output mode
      await t.waitFor(/33 90\r?\nE=xterm/);
      t.resize(50, 130);
      // the resize travels CLI → daemon → runc asynchronously, as with Docker: ask until it landed
      for (let i = 0; i < 20 && !/50 130/.test(t.output()); i++) {
        t.type('stty size\r');
        await t.waitFor(/\d+ \d+\r\n[^]*# [^]*$/, 5000).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(t.output()).toMatch(/50 130/);
      t.type('sleep 1234\r');
      await new Promise((r) => setTimeout(r, 500));
      t.type('\x10\x11');
      // the CLI ends (its exit status after a detach is its own business)
      await t.exited;
      expect(t.output()).toContain('read escape sequence');
    } finally {
      t.kill();
    }
    const top = await d.docker(['top', 'term2']);
    expect(top.stdout).toContain('sleep 1234');
  }, 90_000);

  test('detach keys sent by the client are honoured by the daemon (detachKeys=ctrl-x,y)', async () => {
    const id = (await d.docker(['create', '-it', '--name', 'term3', 'busybox:local', 'sh'])).stdout.trim();
    expect((await d.docker(['start', 'term3'])).code).toBe(0);
    const bad = await request(d.socket, 'POST', `/containers/${id}/attach?stream=1&stdin=1&detachKeys=ctrl-%21`);
    expect(bad.status).toBe(400);
    expect(bad.body.toString()).toContain('Invalid detach keys');
    const a = await rawAttach(d.socket, id, 'detachKeys=ctrl-x,y');
    // x alone is no detach: it reaches the shell as typed
    a.sock.write('echo raw-$((2+3))x\n');
    for (let i = 0; i < 100 && !a.output().includes('raw-5x'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(a.output()).toContain('raw-5x');
    a.sock.write(Buffer.from([0x18, 0x79]));
    await a.closed;
    expect(await status('term3')).toBe('running');
  }, 60_000);

  test('a tty client that hangs up detaches; the container keeps running with its stdin', async () => {
    const id = (await d.docker(['create', '-it', '--name', 'term4', 'busybox:local', 'sh'])).stdout.trim();
    expect((await d.docker(['start', 'term4'])).code).toBe(0);
    const a = await rawAttach(d.socket, id, '');
    a.sock.destroy();
    await a.closed;
    await new Promise((r) => setTimeout(r, 500));
    expect(await status('term4')).toBe('running');
    const b = await rawAttach(d.socket, id, '');
    b.sock.write('echo still-$((1+1))\n');
    for (let i = 0; i < 100 && !b.output().includes('still-2'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(b.output()).toContain('still-2');
    b.sock.destroy();
  }, 60_000);

  test('resize is refused, not ignored, when there is no terminal', async () => {
    const id = (await d.docker(['run', '-d', '--name', 'term5', 'busybox:local', 'sleep', '300'])).stdout.trim();
    const r = await request(d.socket, 'POST', `/containers/${id}/resize?h=10&w=20`);
    expect(r.status).toBe(409);
    expect(r.body.toString()).toContain('no tty');
    expect((await request(d.socket, 'POST', `/containers/${id}/resize?h=x&w=20`)).status).toBe(400);
  });
});

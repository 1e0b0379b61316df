import { test, expect } from 'vitest';
import { spawnViaHelper, type HelperChild } from '../../src/util/spawn-server.js';
import { tempDir } from '../support/tmp.js';

async function collect(c: HelperChild): Promise<{ out: string; err: string; code: number | null; signal: string | null }> {
  const read = async (s?: NodeJS.ReadableStream) => {
    let t = '';
    if (s) for await (const chunk of s) t += chunk.toString();
    return t;
  };
  const [out, err, ended] = await Promise.all([read(c.stdout), read(c.stderr), c.exited]);
  return { out, err, ...ended };
}

test('a child started by the helper: its output, errors and exit code, through FIFOs that open as files in it', async () => {
  const c = await spawnViaHelper(['/bin/sh', '-c', 'echo out; echo err >&2; echo direct > /dev/stdout; exit 3'], { stdout: true, stderr: true });
  expect(c.pid).toBeGreaterThan(1);
  expect(await collect(c)).toEqual({ out: 'out\ndirect\n', err: 'err\n', code: 3, signal: null });
});

test('stdin reaches the child and its end is an end of file; nothing written before the reader came is lost', async () => {
  const cat = await spawnViaHelper(['/bin/cat'], { stdin: true, stdout: true });
  cat.stdin!.end('hello from the caller');
  expect(await collect(cat)).toEqual({ out: 'hello from the caller', err: '', code: 0, signal: null });
  // a child that writes a megabyte and exits at once
  const big = await spawnViaHelper(['/bin/sh', '-c', 'head -c 1048576 /dev/zero'], { stdout: true });
  expect((await collect(big)).out.length).toBe(1 << 20);
});

test('cwd and env are the child\'s; a missing binary is ENOENT; a signal ends it', async () => {
  const t = await tempDir('tbspawn-');
  try {
    const c = await spawnViaHelper(['/bin/sh', '-c', 'pwd; echo $ONLY'], { stdout: true, cwd: t.path, env: { ONLY: 'this' } });
    expect((await collect(c)).out).toBe(`${t.path}\nthis\n`);
  } finally {
    await t.cleanup();
  }
  await expect(spawnViaHelper(['/no/such/binary'], { stdout: true })).rejects.toMatchObject({ code: 'ENOENT' });
  const sleeper = await spawnViaHelper(['/bin/sleep', '30'], {});
  sleeper.kill('SIGKILL');
  expect(await sleeper.exited).toEqual({ code: null, signal: 'SIGKILL' });
  // the helper's own signal handling is not the child's: SIGINT and SIGTERM end it as usual
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const c = await spawnViaHelper(['/bin/sleep', '30'], {});
    c.kill(signal);
    expect(await c.exited).toEqual({ code: null, signal });
  }
  const dispositions = await spawnViaHelper(['/bin/sh', '-c', 'grep SigIgn /proc/self/status'], { stdout: true });
  expect((await collect(dispositions)).out).toBe('SigIgn:\t0000000000000000\n');
});

test('the helper removes its FIFO directory when its caller dies by a signal', async () => {
  const { spawnSync } = await import('node:child_process');
  const { readdirSync } = await import('node:fs');
  const t = await tempDir('tbspawn-');
  try {
    // a process of its own (with a temp dir of its own), so that its helper is not this test's
    const script = `import('${new URL('../../src/util/spawn-server.ts', import.meta.url).pathname}').then(async (m) => { const c = await m.spawnViaHelper(['/bin/true'], {}); await c.exited; process.kill(process.pid, 'SIGTERM'); })`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, TMPDIR: t.path } });
    expect(r.signal).toBe('SIGTERM');
    const left = () => readdirSync(t.path).filter((n) => n.startsWith('tbuild-spawn-'));
    for (let i = 0; i < 50 && left().length; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(left()).toEqual([]);
  } finally {
    await t.cleanup();
  }
});

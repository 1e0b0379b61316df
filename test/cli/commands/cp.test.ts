import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot, mountsUnder, tempDir } from '../../support/tmp.js';
import { BUSYBOX_TAR, runCli } from '../../support/cli.js';
import { splitCpArg } from '../../../src/cli/commands/cp.js';

describe('cp arguments', () => {
  test('CONTAINER:PATH, local paths, ./a:b', () => {
    expect(splitCpArg('web:/etc/hosts')).toEqual({ container: 'web', path: '/etc/hosts' });
    expect(splitCpArg('/tmp/x')).toEqual({ path: '/tmp/x' });
    expect(splitCpArg('./a:b')).toEqual({ path: './a:b' });
    expect(splitCpArg('web:')).toEqual({ container: 'web', path: '/' });
  });
});

describe.runIf(isRoot)('tbuild cp (embedded engine)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let root: string;

  beforeAll(async () => {
    tmp = await tempDir('tbcp-');
    root = join(tmp.path, 'root');
    expect((await runCli(['load', '-i', BUSYBOX_TAR], { root })).code).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await runCli(['rm', '-f', 'cpt'], { root });
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  }, 60_000);

  test('both directions, into a directory and to a new name', async () => {
    const run = await runCli(['run', '-d', '--name', 'cpt', 'busybox:local', 'sh', '-c', 'mkdir -p /data/sub && echo hi > /data/sub/f && touch /ready && sleep 300'], { root });
    expect(run.code).toBe(0);
    for (let i = 0; i < 300 && (await runCli(['exec', 'cpt', 'test', '-e', '/ready'], { root })).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    const out = join(tmp.path, 'out');
    await mkdir(out);
    expect((await runCli(['cp', 'cpt:/data', out], { root })).code).toBe(0);
    expect(await readFile(join(out, 'data/sub/f'), 'utf8')).toBe('hi\n');
    expect((await runCli(['cp', 'cpt:/data/sub/f', join(out, 'renamed')], { root })).code).toBe(0);
    expect(await readFile(join(out, 'renamed'), 'utf8')).toBe('hi\n');
    await writeFile(join(tmp.path, 'l.txt'), 'local\n');
    expect((await runCli(['cp', join(tmp.path, 'l.txt'), 'cpt:/data/'], { root })).code).toBe(0);
    expect((await runCli(['cp', join(tmp.path, 'l.txt'), 'cpt:/data/new.txt'], { root })).code).toBe(0);
    const ls = await runCli(['exec', 'cpt', 'sh', '-c', 'ls /data; cat /data/new.txt'], { root });
    expect(ls.stdout).toBe('l.txt\nnew.txt\nsub\nlocal\n');
    const both = await runCli(['cp', '/a', '/b'], { root });
    expect(both.stderr).toContain('exactly one side must be CONTAINER:PATH');
  }, 120_000);
});

import { describe, expect, test } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.js';
import { spawnSync } from 'node:child_process';
import { lockFile, tryLockFile, withFileLock } from '../../src/util/file-lock.js';

describe('file locks shared by processes (flock)', () => {
  test('a second holder waits for the first; shared holders do not', async () => {
    const dir = await tempDir('tb-flock-');
    try {
      const path = join(dir.path, 'a.lock');
      const order: string[] = [];
      const first = await lockFile(path);
      const second = withFileLock(path, async () => {
        order.push('second');
      });
      await new Promise((r) => setTimeout(r, 200));
      order.push('first done');
      first.release();
      await second;
      expect(order).toEqual(['first done', 'second']);
      const a = await lockFile(path, { shared: true });
      const b = await lockFile(path, { shared: true });
      a.release();
      b.release();
    } finally {
      await dir.cleanup();
    }
  });

  test('a process killed while holding the lock leaves nothing held', async () => {
    const dir = await tempDir('tb-flock-');
    try {
      const path = join(dir.path, 'b.lock');
      // Another process takes the lock through the same helper and is then killed by SIGKILL.
      const holder = spawn(process.execPath, [
        '--import',
        import.meta.resolve('tsx'),
        '-e',
        `import(${JSON.stringify(new URL('../../src/util/file-lock.ts', import.meta.url).href)}).then(async (m) => { await m.lockFile(${JSON.stringify(path)}); console.log('held'); setInterval(() => {}, 1000); });`,
      ], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => holder.stdout!.on('data', (d: Buffer) => d.toString().includes('held') && resolve()));
      holder.kill('SIGKILL');
      const lock = await lockFile(path);
      lock.release();
    } finally {
      await dir.cleanup();
    }
  }, 30_000);

  test('a lock this process holds is held for util-linux flock in another process, and free once released', async () => {
    const dir = await tempDir('tb-flock-');
    try {
      const path = join(dir.path, 'c.lock');
      const other = (mode: string) => spawnSync('flock', [mode, '-n', path, 'true']).status;
      // a release reaches the helper a moment later; this process's own next lock is ordered after it
      const soon = async (mode: string) => {
        for (let i = 0; i < 100 && other(mode) !== 0; i++) await new Promise((r) => setTimeout(r, 10));
        return other(mode);
      };
      const exclusive = await lockFile(path);
      expect(other('-s')).toBe(1);
      // within this process a second holder is a second open file: it is refused too
      expect(await tryLockFile(path)).toBeUndefined();
      exclusive.release();
      expect(await soon('-s')).toBe(0);
      const shared = await lockFile(path, { shared: true });
      expect(other('-s')).toBe(0);
      expect(other('-x')).toBe(1);
      shared.release();
      expect(await soon('-x')).toBe(0);
      // held by another process: the try fails, the wait ends when that process lets go
      const holder = spawn('flock', ['-x', path, 'sleep', '0.5'], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 150));
      expect(await tryLockFile(path)).toBeUndefined();
      const waited = await lockFile(path);
      expect(holder.exitCode).toBe(0);
      waited.release();
    } finally {
      await dir.cleanup();
    }
  });
});

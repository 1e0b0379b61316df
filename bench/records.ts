/**
 * Build records: `builds ls` over 1,000 records (the store's list, as the CLI and GET /tbuild/builds
 * call it), with records of a realistic size (12 steps each).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { median, type BenchRow } from './types.js';
import { BuildRecordStore } from '../src/records/store.js';

export async function bench(): Promise<BenchRow[]> {
  const dir = await mkdtemp('/tmp/tbr-bench-');
  try {
    const store = new BuildRecordStore(dir, { keep: 10_000 });
    for (let i = 0; i < 1000; i++) {
      const r = await store.start({ dockerfile: 'Dockerfile', target: 'app', args: { FLAVOUR: 'x' }, tags: [`app:${i}`] });
      const t = Date.now();
      for (let s = 0; s < 12; s++) {
        const id = `sha256:${String(s).padStart(64, '0')}` as import('../src/cache/types.js').Digest;
        r.event({ type: 'vertex', vertex: { id, name: `[${s}/12] RUN step ${s}`, inputs: [], started: t, completed: t + 5, cached: s % 2 === 0 } });
      }
      await r.finish({ result: { imageId: `sha256:${'a'.repeat(64)}`, digest: `sha256:${'b'.repeat(64)}` } });
    }
    await store.list(); // warm
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = process.hrtime.bigint();
      const list = await store.list();
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (list.length !== 1000) throw new Error(`listed ${list.length} records`);
    }
    const ms = median(times);
    return [{ area: 'records', name: 'builds ls over 1,000 records', value: ms, unit: 'ms', target: '< 200 ms', met: ms < 200 }];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

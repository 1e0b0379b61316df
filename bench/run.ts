/**
 * `npm run bench`: runs every bench module in turn and prints one table.
 * `npm run bench -- parser storage` runs only those areas. Figures go to bench/out/results.json.
 * Benchmarks are never part of the test suite: speed targets are reported here, not asserted.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import type { BenchModule, BenchRow } from './types.js';

const AREAS = ['parser', 'storage', 'verify', 'images', 'fileops', 'runtime', 'build', 'daemon', 'registry', 'seccomp', 'network', 'network-peer', 'registry-peer', 'buildx', 'containers', 'records', 'recording'];
const here = dirname(fileURLToPath(import.meta.url));

const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const rows: BenchRow[] = [];
for (const area of AREAS) {
  if (only.length && !only.includes(area)) continue;
  const file = join(here, `${area}.ts`);
  if (!existsSync(file)) continue;
  process.stderr.write(`[bench] ${area}…\n`);
  try {
    const mod = (await import(pathToFileURL(file).href)) as BenchModule;
    const got = await mod.bench({ only });
    rows.push(...got);
    for (const r of got) process.stderr.write(`[bench]   ${r.name}: ${fmt(r.value)} ${r.unit}\n`);
  } catch (err) {
    process.stderr.write(`[bench] ${area} failed: ${(err as Error).stack ?? err}\n`);
    rows.push({ area, name: 'error', value: NaN, unit: '', note: String((err as Error).message ?? err) });
  }
}

function fmt(v: number): string {
  return Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2)) : 'n/a';
}

const header = ['area', 'benchmark', 'value', 'unit', 'target', 'met', 'note'];
const table = [header, ...rows.map((r) => [r.area, r.name, fmt(r.value), r.unit, r.target ?? '', r.met === undefined ? '' : r.met ? 'yes' : 'NO', r.note ?? ''])];
const widths = header.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
for (const row of table) console.log(row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
await mkdir(join(here, 'out'), { recursive: true });
await writeFile(join(here, 'out', 'results.json'), JSON.stringify(rows, null, 2));

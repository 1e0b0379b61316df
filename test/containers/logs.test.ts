import { describe, test, expect, beforeEach, afterEach } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.js';
import { JsonLogWriter, readJsonLog, logTime, timeSeconds } from '../../src/containers/logs.js';
import type { LogEntry } from '../../src/containers/types.js';

async function all(it: AsyncIterable<LogEntry>): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for await (const e of it) out.push(e);
  return out;
}

describe('json-file logs', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  beforeEach(async () => {
    tmp = await tempDir('tbg-');
  });
  afterEach(() => tmp.cleanup());

  test('lines are split at newlines, partial lines held until flushed, long ones cut at 16 KiB', async () => {
    const path = join(tmp.path, 'c-json.log');
    const w = await JsonLogWriter.open(path);
    w.write('stdout', Buffer.from('one\ntw'));
    w.write('stdout', Buffer.from('o\n'));
    w.write('stderr', Buffer.from('no newline'));
    w.write('stdout', Buffer.alloc(16384 + 10, 'x'));
    await w.close();
    const lines = (await readFile(path, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as LogEntry);
    expect(lines.map((l) => [l.stream, l.log.length > 20 ? l.log.length : l.log])).toEqual([
      ['stdout', 'one\n'],
      ['stdout', 'two\n'],
      ['stdout', 16384],
      ['stdout', 'xxxxxxxxxx'],
      ['stderr', 'no newline'],
    ]);
    expect(lines[0]!.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  });

  test('tail, stream filters and since', async () => {
    const path = join(tmp.path, 'c-json.log');
    const w = await JsonLogWriter.open(path);
    for (let i = 1; i <= 5; i++) w.write(i % 2 ? 'stdout' : 'stderr', Buffer.from(`l${i}\n`));
    await w.close();
    const idle = async () => false;
    expect((await all(readJsonLog(path, { tail: 2 }, idle))).map((e) => e.log)).toEqual(['l4\n', 'l5\n']);
    expect((await all(readJsonLog(path, { tail: 0 }, idle))).map((e) => e.log)).toEqual([]);
    expect((await all(readJsonLog(path, { stderr: false }, idle))).map((e) => e.log)).toEqual(['l1\n', 'l3\n', 'l5\n']);
    expect(await all(readJsonLog(path, { since: Date.now() / 1000 + 60 }, idle))).toEqual([]);
    expect(await all(readJsonLog(join(tmp.path, 'missing.log'), {}, idle))).toEqual([]);
  });

  test('follow picks up appended lines and stops when the writer is gone', async () => {
    const path = join(tmp.path, 'c-json.log');
    const w = await JsonLogWriter.open(path);
    w.write('stdout', Buffer.from('first\n'));
    let running = true;
    const got: string[] = [];
    const reader = (async () => {
      for await (const e of readJsonLog(path, { follow: true }, async () => running)) got.push(e.log);
    })();
    await new Promise((r) => setTimeout(r, 100));
    w.write('stdout', Buffer.from('second\n'));
    await w.close();
    await new Promise((r) => setTimeout(r, 100));
    running = false;
    await reader;
    expect(got).toEqual(['first\n', 'second\n']);
  });

  test('timestamps round-trip to seconds', () => {
    const t = logTime(Date.parse('2026-01-02T03:04:05.678Z'), 123456n);
    expect(t).toBe('2026-01-02T03:04:05.678123456Z');
    expect(timeSeconds(t)).toBeCloseTo(Date.parse('2026-01-02T03:04:05.678Z') / 1000 + 0.000123456, 6);
  });
});

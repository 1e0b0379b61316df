import { describe, expect, test } from 'vitest';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { peekStepPlan } from '../../src/daemon/context-peek.js';
import { TarTerminator } from '../../src/daemon/context-stream.js';
import { extract } from 'tar-stream';

async function through(data: Buffer): Promise<Buffer> {
  const t = new TarTerminator();
  const out: Buffer[] = [];
  t.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((r) => t.on('end', r));
  t.end(data);
  await done;
  return Buffer.concat(out);
}

async function names(data: Buffer): Promise<string[]> {
  const ex = extract();
  const got: string[] = [];
  ex.on('entry', (h, s, next) => {
    got.push(h.name);
    s.on('end', next);
    s.resume();
  });
  const done = new Promise<void>((resolve, reject) => {
    ex.on('finish', () => resolve());
    ex.on('error', reject);
  });
  ex.end(data);
  await done;
  return got;
}

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const p = pack();
  for (const [name, content] of Object.entries(files)) p.entry({ name }, content);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('reading the step plan from a build context', () => {
  test('plain and gzip contexts, the named Dockerfile, every stage and step as written', async () => {
    const tar = await tarOf({
      'a.txt': 'x',
      'sub/Dockerfile.dev': 'FROM busybox AS base\nENV A=1 \\\n  B=2\nRUN echo hi\nFROM base\nCMD ["sh"]\n',
    });
    for (const body of [tar, gzipSync(tar)]) {
      const plan = await peekStepPlan(Readable.from([body]), './sub/Dockerfile.dev');
      expect(plan).toEqual({
        singleStage: false,
        stages: [
          { label: 'base', steps: ['FROM busybox AS base', expect.stringMatching(/^ENV A=1 +B=2$/), 'RUN echo hi'] },
          { label: 'stage-1', steps: ['FROM base', 'CMD ["sh"]'] },
        ],
      });
    }
  });

  test('no Dockerfile, a broken one, or a truncated stream: no plan, no throw, input drained', async () => {
    expect(await peekStepPlan(Readable.from([await tarOf({ other: 'x' })]), 'Dockerfile')).toBeUndefined();
    expect(await peekStepPlan(Readable.from([await tarOf({ Dockerfile: 'NOTANINSTRUCTION x\n' })]), 'Dockerfile')).toBeUndefined();
    const cut = (await tarOf({ Dockerfile: 'FROM x\n', big: 'y'.repeat(100_000) })).subarray(0, 5000);
    const src = Readable.from([cut]);
    expect(await peekStepPlan(src, 'Dockerfile')).toMatchObject({ singleStage: true });
    expect(src.readableEnded || src.destroyed).toBe(true);
  });

  test('an archive sent without its end (as the Docker CLI does with -f outside the context) is completed', async () => {
    const full = await tarOf({ a: 'x', '.dockerfile.123': 'FROM x\n' });
    // Cut right after the last member's data: no padding, no end blocks.
    const cut = full.subarray(0, 512 + 512 + 512 + 7);
    await expect(names(cut)).rejects.toThrow();
    expect(await names(await through(cut))).toEqual(['a', '.dockerfile.123']);
    // Complete and compressed archives pass untouched.
    expect((await through(full)).equals(full)).toBe(true);
    const gz = gzipSync(full);
    expect((await through(gz)).equals(gz)).toBe(true);
  });
});

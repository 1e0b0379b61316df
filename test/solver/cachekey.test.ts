import { describe, test, expect, afterEach } from 'vitest';
import { writeFile, chmod, utimes, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.js';
import { fakeImages } from '../support/fake-images.js';
import { parseDockerfile } from '../../src/parser/parse.js';
import { resolveDockerfile } from '../../src/parser/resolve.js';
import { convert } from '../../src/frontend/dockerfile/index.js';
import { cacheKey } from '../../src/solver/cachekey.js';
import { topoOrder } from '../../src/solver/graph/vertex.js';
import { engineOps, type OpEnv } from '../../src/worker/index.js';
import { NO_IGNORE } from '../../src/session/ignore.js';
import type { BuildContext } from '../../src/session/types.js';
import type { Digest } from '../../src/util/digest.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function context(files: Record<string, string>): Promise<string> {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  for (const [p, c] of Object.entries(files)) {
    await mkdir(join(t.path, p, '..'), { recursive: true });
    await writeFile(join(t.path, p), c);
  }
  return t.path;
}

/** Cache key of every step, by the step's instruction text (`RUN echo hi`). */
async function keys(dockerfile: string, dir: string, buildArgs: Record<string, string> = {}): Promise<Map<string, Digest>> {
  const df = parseDockerfile(dockerfile, { file: 'Dockerfile' });
  const resolved = resolveDockerfile(df, { buildArgs });
  const conv = await convert(resolved, fakeImages(), {
    buildArgs,
    network: 'none',
    file: 'Dockerfile',
    platform: { os: 'linux', architecture: 'amd64' },
  });
  const ctx = { dir, ignore: NO_IGNORE } as unknown as BuildContext;
  const impl = engineOps({ context: ctx } as OpEnv);
  const def = conv.definition;
  const out = new Map<string, Digest>();
  const byDigest = new Map<Digest, Digest>();
  const signal = new AbortController().signal;
  for (const d of topoOrder(def, [conv.target.vertex])) {
    const v = def.vertices.get(d)!;
    const k = cacheKey(d, v.inputs.map((i) => byDigest.get(i)!), await impl.contentKey(v, [], signal));
    byDigest.set(d, k);
    const name = def.meta.get(d)!.name.replace(/^\[[^\]]*\] /, '');
    out.set(name, k);
  }
  return out;
}

const DF = `FROM busybox:local
COPY a.txt /a.txt
RUN cat /a.txt
`;

describe('cache keys', () => {
  test('change of a copied file busts the COPY and what follows', async () => {
    const dir = await context({ 'a.txt': 'a\n', 'b.txt': 'b\n' });
    const before = await keys(DF, dir);
    await writeFile(join(dir, 'a.txt'), 'A\n');
    const after = await keys(DF, dir);
    expect(after.get('COPY a.txt /a.txt')).not.toBe(before.get('COPY a.txt /a.txt'));
    expect(after.get('RUN cat /a.txt')).not.toBe(before.get('RUN cat /a.txt'));
  });

  test('mode change of a copied file busts', async () => {
    const dir = await context({ 'a.txt': 'a\n' });
    const before = await keys(DF, dir);
    await chmod(join(dir, 'a.txt'), 0o755);
    expect((await keys(DF, dir)).get('COPY a.txt /a.txt')).not.toBe(before.get('COPY a.txt /a.txt'));
  });

  test('unrelated context files and mtimes do not bust', async () => {
    const dir = await context({ 'a.txt': 'a\n', 'b.txt': 'b\n' });
    const before = await keys(DF, dir);
    await writeFile(join(dir, 'b.txt'), 'changed\n');
    await writeFile(join(dir, 'new.txt'), 'new\n');
    await utimes(join(dir, 'a.txt'), new Date(1_000_000), new Date(1_000_000));
    expect(await keys(DF, dir)).toEqual(before);
  });

  test('reformatting and comments keep every key', async () => {
    const dir = await context({ 'a.txt': 'a\n' });
    const before = [...(await keys(DF, dir)).values()];
    const reformatted = `# a comment\nFROM busybox:local\n\n# copy it\nCOPY a.txt \\\n  /a.txt\nRUN cat /a.txt\n`;
    expect([...(await keys(reformatted, dir)).values()]).toEqual(before);
  });

  test('instruction text busts that step and later ones only', async () => {
    const dir = await context({ 'a.txt': 'a\n' });
    const before = await keys(DF + 'RUN echo end\n', dir);
    const after = await keys(DF.replace('RUN cat /a.txt', 'RUN cat /a.txt /a.txt') + 'RUN echo end\n', dir);
    expect(after.get('COPY a.txt /a.txt')).toBe(before.get('COPY a.txt /a.txt'));
    expect(after.get('RUN echo end')).not.toBe(before.get('RUN echo end'));
  });

  test('a build arg busts the steps that see it; an unused one busts nothing', async () => {
    const dir = await context({ 'a.txt': 'a\n' });
    const df = `FROM busybox:local\nRUN echo early\nARG V\nRUN echo $V\n`;
    const k1 = await keys(df, dir, { V: '1' });
    const k2 = await keys(df, dir, { V: '2' });
    expect(k2.get('RUN echo early')).toBe(k1.get('RUN echo early'));
    expect(k2.get('RUN echo $V')).not.toBe(k1.get('RUN echo $V'));
    const unused = await keys(df, dir, { V: '1', OTHER: 'x' });
    expect(unused).toEqual(k1);
    // proxy build args reach RUN without a declaration, but never its key (as in BuildKit)
    expect(await keys(df, dir, { V: '1', HTTP_PROXY: 'http://127.0.0.1:9' })).toEqual(k1);
  });
});

import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { lstat, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTar, type TarEntry } from './tar.js';
import { isTbuildError } from '../../src/errors.js';
import { prng } from './prng.js';

/**
 * Generated hostile tarballs (issue 13's "1,000 hostile tars/contexts"): each is a few entries
 * drawn from what attacks an extractor — names that climb out (`../`, absolute, through a symlink
 * laid down earlier), symlinks and hard links to outside or to the host, whiteouts of `.`/`..`,
 * device nodes, setuid modes, PAX path overrides — and sometimes damaged at the byte level
 * (truncated, a header byte flipped, garbage before or after, gzip wrapped or cut). The same seed
 * gives the same archive, so a failure names a case that can be replayed.
 */
export interface HostileTar {
  seed: number;
  bytes: Buffer;
  /** What went into it, for the failure report. */
  recipe: string[];
}

export async function hostileTar(seed: number, hostDir: string): Promise<HostileTar> {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const climb = () => '../'.repeat(1 + Math.floor(r() * 5));
  const names = [
    () => 'a',
    () => 'a/b/c',
    () => `${climb()}outside/pwned`,
    () => `${climb()}outside`,
    () => '/abs/pwned',
    () => `/${climb()}outside/pwned`,
    () => `a/${climb()}${climb()}outside/pwned`,
    () => 'l/pwned',
    () => 'l/deeper/pwned',
    () => 'l',
    () => '.',
    () => '..',
    () => './',
    () => `${hostDir}/outside/pwned`,
    () => 'x'.repeat(120) + '/' + 'y'.repeat(120) + '/long',
    () => 'ünï/cödé',
    () => 'a/.wh..wh..opq',
    () => '.wh..',
    () => '.wh...',
    () => `${climb()}.wh.outside`,
    () => 'a/.wh.b',
  ];
  const targets = ['/', '..', '../..', `${climb()}outside`, `${climb()}outside/file`, `${hostDir}/outside`, `${hostDir}/outside/file`, '/etc', '/etc/passwd', 'a', 'l', 'l/pwned', 'nonexistent/x'];
  const entries: TarEntry[] = [];
  const recipe: string[] = [];
  // often lay a symlink `l` down first, so later names walk through it
  if (r() < 0.5) {
    const linkname = pick(targets);
    entries.push({ name: 'l', type: 'symlink', linkname });
    recipe.push(`symlink l -> ${linkname}`);
  }
  const count = 1 + Math.floor(r() * 7);
  for (let i = 0; i < count; i++) {
    const name = pick(names)();
    const kind = r();
    if (kind < 0.3) {
      entries.push({ name, content: 'pwned\n', mode: pick([0o644, 0o4755, 0o7777]) });
      recipe.push(`file ${name}`);
    } else if (kind < 0.45) {
      const linkname = pick(targets);
      entries.push({ name, type: 'symlink', linkname });
      recipe.push(`symlink ${name} -> ${linkname}`);
    } else if (kind < 0.6) {
      const linkname = pick(targets);
      entries.push({ name, type: 'link', linkname });
      recipe.push(`hardlink ${name} -> ${linkname}`);
    } else if (kind < 0.72) {
      entries.push({ name, type: 'directory', mode: pick([0o755, 0o7777, 0o000]) });
      recipe.push(`dir ${name}`);
    } else if (kind < 0.8) {
      const type = pick(['character-device', 'block-device', 'fifo'] as const);
      entries.push({ name, type, devmajor: 1, devminor: 3 });
      recipe.push(`${type} ${name}`);
    } else if (kind < 0.9) {
      // a PAX header says another path than the ustar one
      const path = pick(names)();
      entries.push({ name: 'innocent', content: 'pwned\n', pax: { path } });
      recipe.push(`file innocent (pax path ${path})`);
    } else {
      const linkpath = pick(targets);
      entries.push({ name, type: 'symlink', linkname: 'innocent', pax: { linkpath } });
      recipe.push(`symlink ${name} (pax linkpath ${linkpath})`);
    }
  }
  let bytes: Buffer;
  try {
    bytes = await makeTar(entries);
  } catch (err) {
    // the writer itself refused an entry: an archive of garbage is a case too
    bytes = Buffer.from(`not a tar: ${(err as Error).message}`);
    recipe.push('writer refused; garbage instead');
  }
  const damage = r();
  if (damage < 0.1) {
    bytes = bytes.subarray(0, Math.floor(r() * bytes.length));
    recipe.push(`truncated at ${bytes.length}`);
  } else if (damage < 0.2) {
    const at = Math.floor(r() * Math.min(bytes.length, 512 * 4));
    bytes = Buffer.from(bytes);
    bytes[at] = bytes[at]! ^ (1 + Math.floor(r() * 255));
    recipe.push(`byte ${at} flipped`);
  } else if (damage < 0.25) {
    bytes = Buffer.concat([Buffer.from('garbage'.repeat(80)), bytes]);
    recipe.push('garbage before');
  } else if (damage < 0.3) {
    bytes = Buffer.concat([bytes, Buffer.from('trailing garbage'.repeat(40))]);
    recipe.push('garbage after');
  } else if (damage < 0.4) {
    bytes = gzipSync(bytes);
    recipe.push('gzipped');
  } else if (damage < 0.45) {
    const gz = gzipSync(bytes);
    bytes = gz.subarray(0, Math.max(10, Math.floor(gz.length / 2)));
    recipe.push('gzipped and cut');
  }
  return { seed, bytes, recipe };
}

export interface CampaignFailure {
  seed: number;
  recipe: string[];
  problem: string;
}

export interface CampaignResult {
  cases: number;
  /** Applied without error (everything stayed inside). */
  accepted: number;
  /** Refused, by error code. */
  refused: Record<string, number>;
  failures: CampaignFailure[];
}

async function fingerprint(dir: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const n of (await readdir(d)).sort()) {
      const p = join(d, n);
      const st = await lstat(p);
      h.update(`${rel}/${n} ${st.mode} ${st.nlink} ${st.size} ${st.mtimeMs}\n`);
      if (st.isDirectory()) await walk(p, `${rel}/${n}`);
      else if (st.isFile()) h.update(await readFile(p));
    }
  };
  await walk(dir, '');
  return h.digest('hex');
}

/**
 * Apply `count` generated tars, each to a fresh `root` with an `outside` directory and a canary
 * beside it. A case passes when the apply succeeds or fails with a TbuildError whose code is one
 * of `codes`, within `timeoutMs`, and afterwards nothing beside the root changed, /etc/passwd is
 * as it was, and `leftovers` (what the applier must clean up) is empty.
 */
export async function hostileTarCampaign(opts: {
  dir: string;
  count: number;
  seed?: number;
  codes: readonly string[];
  apply: (tar: Buffer, root: string) => Promise<void>;
  /** Paths under `root` that must not exist after the case (temporary state of the applier). */
  leftovers?: (root: string) => Promise<string[]>;
  timeoutMs?: number;
}): Promise<CampaignResult> {
  const result: CampaignResult = { cases: 0, accepted: 0, refused: {}, failures: [] };
  const passwd = createHash('sha256').update(await readFile('/etc/passwd')).digest('hex');
  for (let i = 0; i < opts.count; i++) {
    const seed = (opts.seed ?? 1) + i;
    const host = join(opts.dir, `case-${seed}`);
    const root = join(host, 'root');
    await mkdir(join(host, 'outside'), { recursive: true });
    await mkdir(root);
    await writeFile(join(host, 'outside', 'file'), 'keep\n');
    await writeFile(join(host, 'canary'), 'untouched\n');
    const before = await fingerprint(join(host, 'outside'));
    const { bytes, recipe } = await hostileTar(seed, host);
    const fail = (problem: string) => result.failures.push({ seed, recipe, problem });
    result.cases++;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        opts.apply(bytes, root),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${opts.timeoutMs ?? 10_000} ms`)), opts.timeoutMs ?? 10_000))),
      ]);
      result.accepted++;
    } catch (err) {
      if (isTbuildError(err) && opts.codes.includes(err.code)) result.refused[err.code] = (result.refused[err.code] ?? 0) + 1;
      else fail(isTbuildError(err) ? `unexpected code ${err.code}: ${err.message}` : `not a TbuildError: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    const beside = (await readdir(host)).sort();
    if (beside.join(',') !== 'canary,outside,root') fail(`beside the root: ${beside.join(', ')}`);
    if ((await readFile(join(host, 'canary'), 'utf8')) !== 'untouched\n') fail('the canary changed');
    if ((await fingerprint(join(host, 'outside'))) !== before) fail('the outside directory changed');
    if (createHash('sha256').update(await readFile('/etc/passwd')).digest('hex') !== passwd) fail('/etc/passwd changed');
    const left = (await opts.leftovers?.(root)) ?? [];
    if (left.length) fail(`left behind: ${left.join(', ')}`);
    await rm(host, { recursive: true, force: true });
  }
  return result;
}

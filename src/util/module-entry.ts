import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * How to start module `name` of folder `folder` as a node process of its own, from a caller in
 * that folder (`callerUrl` = its import.meta.url): node with tsx on the source, plain node on the
 * compiled module beside it — or, when the caller is inside the bundled `dist/cli.js` (or one of
 * its lazily loaded chunks in `dist/chunks/`), on `dist/<folder>/<name>.js`, which stays its own
 * small module. tsx must resolve from the
 * project whatever the caller's cwd, hence the cwd returned.
 */
export function moduleEntry(callerUrl: string, folder: string, name: string): { args: string[]; cwd: string } {
  const here = fileURLToPath(callerUrl);
  const fromSource = here.endsWith('.ts');
  const beside = join(dirname(here), `${name}.${fromSource ? 'ts' : 'js'}`);
  // the bundle's code split off for lazy loading lives in dist/chunks/
  const bundleDir = basename(dirname(here)) === 'chunks' ? dirname(dirname(here)) : dirname(here);
  const entry = fromSource || existsSync(beside) ? beside : join(bundleDir, folder, `${name}.js`);
  return { args: fromSource ? ['--import', 'tsx', entry] : [entry], cwd: join(dirname(entry), '..', '..') };
}

/**
 * The URL to start module `name` of `folder` as a worker thread, found as `moduleEntry` finds a
 * process's module. From the TypeScript source, a worker does not inherit tsx's loader (a
 * worker's `--import` does not reach its own entry module), so the entry is a small module that
 * registers tsx first and then imports the real one.
 */
export function workerEntry(callerUrl: string, folder: string, name: string): URL {
  const { args } = moduleEntry(callerUrl, folder, name);
  const entry = pathToFileURL(args[args.length - 1]!).href;
  if (!entry.endsWith('.ts')) return new URL(entry);
  const tsxDir = dirname(createRequire(callerUrl).resolve('tsx/package.json'));
  const pkg = JSON.parse(readFileSync(join(tsxDir, 'package.json'), 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  const api = pathToFileURL(join(tsxDir, pkg.exports['./esm/api']!.import.default)).href;
  const boot = `import { register } from ${JSON.stringify(api)}; register(); await import(${JSON.stringify(entry)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(boot)}`);
}

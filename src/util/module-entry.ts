import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * How to start module `name` of folder `folder` as a node process of its own, from a caller in
 * that folder (`callerUrl` = its import.meta.url): node with tsx on the source, plain node on the
 * compiled module beside it — or, when the caller is inside the bundled `dist/cli.js`, on
 * `dist/<folder>/<name>.js`, which stays its own small module. tsx must resolve from the
 * project whatever the caller's cwd, hence the cwd returned.
 */
export function moduleEntry(callerUrl: string, folder: string, name: string): { args: string[]; cwd: string } {
  const here = fileURLToPath(callerUrl);
  const fromSource = here.endsWith('.ts');
  const beside = join(dirname(here), `${name}.${fromSource ? 'ts' : 'js'}`);
  const entry = fromSource || existsSync(beside) ? beside : join(dirname(here), folder, `${name}.js`);
  return { args: fromSource ? ['--import', 'tsx', entry] : [entry], cwd: join(dirname(entry), '..', '..') };
}

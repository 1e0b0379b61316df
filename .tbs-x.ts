import { mkdir, writeFile, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { applyTar, tarFromDir } from './src/cache/layer/index.js';
const root = '/tmp/tbs-prof';
await rm(root, { recursive: true, force: true });
const small = join(root, 'small');
for (let d = 0; d < 50; d++) { await mkdir(join(small, `d${d}`), { recursive: true }); for (let f = 0; f < 100; f++) await writeFile(join(small, `d${d}`, `f${f}`), randomBytes(1024)); }
const smallTar: Buffer[] = [];
for await (const c of tarFromDir(small)) smallTar.push(c as Buffer);
let t = performance.now();
await applyTar(Readable.from(smallTar), join(root, 'a1'));
console.log('apply ms', performance.now() - t);
t = performance.now();
await applyTar(Readable.from([Buffer.concat(smallTar)]), join(root, 'a2'));
console.log('apply one chunk ms', performance.now() - t);
await rm(root, { recursive: true, force: true });

// Starts a container through the executor, reports it, then waits to be killed (sweep test).
import { createRuncExecutor } from '../../../src/exec/runc.js';

const [root, rootfs, id] = process.argv.slice(2) as [string, string, string];
const ex = createRuncExecutor({ root, runtime: 'runc' });
const c = await ex.start(id, { rootfs, process: { args: ['sleep', '100'], env: [], cwd: '/', user: '' }, mounts: [], network: 'none' }, {});
process.stdout.write(`started ${c.pid}\n`);
setInterval(() => {}, 1000);

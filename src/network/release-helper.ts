import { fileURLToPath } from 'node:url';
import { openNetworkManager } from './manager.js';

/**
 * A detached process that tears down namespaces handed over to it (`NetworkManager.close({ detach:
 * true })`), so a one-shot CLI build does not wait ~100 ms of netavark's iptables calls before it
 * exits. It reads the attachment ids on stdin once their records name it as owner; if it dies,
 * its records have a dead owner and the next engine start releases them.
 */
async function main(root: string, leaseDir: string): Promise<void> {
  let text = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) text += chunk as string;
  const ids = text.trim() ? (JSON.parse(text) as string[]) : [];
  if (!ids.length) return;
  const networks = await openNetworkManager({ root, leaseDir });
  await networks.releaseHandedOver(ids);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [root, leaseDir] = process.argv.slice(2);
  main(root!, leaseDir!).then(
    () => process.exit(0),
    () => process.exit(1),
  );
}

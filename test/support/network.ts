import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A bridge and subnet of the test's own (parallel test files must not share them): `tbuild` +
 * pid + random in the name, a random /24 of 10.240.0.0/12 that no host route covers.
 */
export function uniqueBridge(): { bridge: string; subnet: string } {
  const routes = execFileSync('ip', ['-4', 'route'], { encoding: 'utf8' });
  for (;;) {
    const a = 240 + Math.floor(Math.random() * 15);
    const b = Math.floor(Math.random() * 256);
    const subnet = `10.${a}.${b}.0/24`;
    if (routes.includes(`10.${a}.${b}.`)) continue;
    const bridge = `tbuild${(process.pid % 100000).toString(36)}${randomBytes(2).toString('hex')}`.slice(0, 15);
    return { bridge, subnet };
  }
}

/** Environment that points an engine (or the CLI) at that bridge. */
export function bridgeEnv(b: { bridge: string; subnet: string }): Record<string, string> {
  return { TBUILD_BRIDGE: b.bridge, TBUILD_BRIDGE_SUBNET: b.subnet };
}

/** What networking left behind for `bridge`/`subnet` under `root`: links, namespaces, rules, leases. */
export function networkLeftovers(root: string, b: { bridge: string; subnet: string }): string[] {
  const left: string[] = [];
  const links = execFileSync('ip', ['-br', 'link'], { encoding: 'utf8' });
  for (const l of links.split('\n')) if (l.includes(b.bridge)) left.push(`link ${l.split(/\s+/)[0]}`);
  const netnsDir = join(root, 'network', 'netns');
  if (existsSync(netnsDir)) for (const f of readdirSync(netnsDir)) left.push(`netns ${f}`);
  const prefix = b.subnet.split('.').slice(0, 3).join('.') + '.';
  const rules = execFileSync('iptables-save', { encoding: 'utf8' });
  for (const l of rules.split('\n')) if (l.includes(prefix)) left.push(`rule ${l}`);
  const records = join(root, 'network', 'attachments');
  if (existsSync(records)) for (const f of readdirSync(records)) left.push(`attachment ${f}`);
  return left;
}

/** Leases in the machine-wide lease directory that name a record under `root`. */
export function leasesOf(root: string, leaseDir = '/run/tbuild/leases'): string[] {
  const out: string[] = [];
  if (!existsSync(leaseDir)) return out;
  for (const net of readdirSync(leaseDir)) {
    for (const ip of readdirSync(join(leaseDir, net))) {
      if (ip.startsWith('.')) continue;
      try {
        if (readFileSync(join(leaseDir, net, ip), 'utf8').startsWith(root + '/')) out.push(`${net}/${ip}`);
      } catch {
        // freed meanwhile
      }
    }
  }
  return out;
}

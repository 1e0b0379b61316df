import { defineConfig } from 'vitest/config';

/**
 * Two groups, one after the other. The network tests assert firewall behaviour (isolation between
 * user networks, `--internal`): netavark's iptables chains are shared by every engine on the host,
 * so they run after the rest, when no other test's engine is setting networks up or tearing them
 * down beside them.
 */
const NETWORK = ['test/network/**/*.test.ts'];

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    // Root tests mount overlays and start runc containers; two cores cannot take many at once.
    maxWorkers: 2,
    testTimeout: 180_000,
    hookTimeout: 180_000,
    projects: [
      { extends: true, test: { name: 'main', include: ['test/**/*.test.ts'], exclude: NETWORK, sequence: { groupOrder: 0 } } },
      // One file at a time here too: each file is an engine of its own (its own netavark config), and
      // netavark drops the host-wide FORWARD → NETAVARK_ISOLATION_1 jump when one engine tears its
      // last isolated network down, while another engine's networks still rely on it (#10).
      { extends: true, test: { name: 'network', include: NETWORK, sequence: { groupOrder: 1 }, fileParallelism: false } },
    ],
  },
});

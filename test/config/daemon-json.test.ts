import { describe, expect, it } from 'vitest';
import { parseBytes, parseDaemonConfig } from '../../src/config/daemon-json.js';

const parse = (doc: unknown) => parseDaemonConfig(JSON.stringify(doc), '/etc/tbuild/daemon.json');

describe('daemon.json in Docker keys', () => {
  it('reads the keys tbuild carries out', () => {
    expect(
      parse({
        'data-root': '/srv/tbuild',
        hosts: ['unix:///run/x.sock'],
        tlsverify: true,
        tlscacert: '/ca.pem',
        'insecure-registries': ['reg.local:5000'],
        'registry-mirrors': ['https://mirror.local'],
        'default-address-pools': [{ base: '10.240.0.0/16', size: 24 }],
        bip: '10.250.3.1/16',
        builder: { gc: { enabled: true, defaultKeepStorage: '2GB' } },
        features: { buildkit: true },
      }),
    ).toEqual({
      file: '/etc/tbuild/daemon.json',
      dataRoot: '/srv/tbuild',
      hosts: ['unix:///run/x.sock'],
      tlsverify: true,
      tlscacert: '/ca.pem',
      insecureRegistries: ['reg.local:5000'],
      registryMirrors: ['https://mirror.local'],
      addressPool: '10.240.0.0/16',
      bridgeSubnet: '10.250.0.0/16',
      builderGc: { enabled: true, keepStorage: 2_000_000_000 },
    });
  });

  it.each([
    [{ 'no-such-key': 1 }, '"no-such-key" is not a known setting'],
    [{ 'log-driver': 'journald' }, '"log-driver" is a Docker daemon setting that tbuild does not carry out'],
    [{ dns: ['1.2.3.4', 'dns.example'] }, '"dns" holds "dns.example", which is not an IP address'],
    [{ 'dns-search': 'corp.example' }, '"dns-search" must be a list of strings'],
    [{ hosts: 'unix:///x' }, '"hosts" must be a list of strings'],
    [{ builder: { gc: { policy: [] } } }, '"builder.gc.policy" is not supported by tbuild'],
    [{ features: { 'containerd-snapshotter': true } }, '"features.containerd-snapshotter" is not supported'],
    [{ 'default-address-pools': [{ base: '10.0.0.0/8', size: 20 }] }, 'must be 24'],
    [{ bip: '10.1.2.3' }, '"bip" must be an address with a prefix'],
  ])('%j is an error naming the key', (doc, message) => {
    expect(() => parse(doc)).toThrow(message);
  });

  it('every key it would not carry out is named at once; Docker keys set to what tbuild does are taken', () => {
    expect(() => parse({ 'bogus-key': 1, another: 2, 'log-driver': 'journald', mtu: 1400 })).toThrow(
      '"bogus-key", "another" are not known settings; "log-driver", "mtu" are Docker daemon settings that tbuild does not carry out',
    );
    expect(parse({ 'storage-driver': 'overlay2', 'log-driver': 'json-file', iptables: true, 'live-restore': false })).toEqual({ file: '/etc/tbuild/daemon.json' });
    expect(() => parse({ 'storage-driver': 'vfs' })).toThrow('"storage-driver" is a Docker daemon setting that tbuild does not carry out');
  });

  it('a file that is not JSON names the file', () => {
    expect(() => parseDaemonConfig('{"hosts": [', '/x/daemon.json')).toThrow('/x/daemon.json is not valid JSON');
  });

  it('sizes as BuildKit GC policies write them', () => {
    expect(parseBytes('20GB')).toBe(20e9);
    expect(parseBytes('512MiB')).toBe(512 * 1024 ** 2);
    expect(parseBytes(1000)).toBe(1000);
    expect(parseBytes('lots')).toBeUndefined();
  });
});

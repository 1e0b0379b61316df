import { describe, expect, it } from 'vitest';
import { parsePortBindings, parsePublish } from '../../src/network/ports.js';

describe('port bindings', () => {
  it('a host range as wide as the container range binds port for port', () => {
    expect(parsePortBindings({ '80-81/tcp': [{ HostIp: '', HostPort: '8000-8001' }] })).toEqual([
      { hostIp: '', hostPort: 8000, containerPort: 80, protocol: 'tcp', range: 2 },
    ]);
    expect(parsePortBindings({ '80/udp': [{ HostPort: '9000' }] })).toEqual([{ hostIp: '', hostPort: 9000, containerPort: 80, protocol: 'udp', range: 1 }]);
  });

  it('a host range wider than the container port is refused, not narrowed to its first port', () => {
    expect(() => parsePortBindings({ '80/tcp': [{ HostPort: '8000-8010' }] })).toThrow(/host port range 8000-8010 for container port 80\/tcp: a host range must be as wide as the container's/);
  });

  it('-p HOST:CONTAINER parses as Docker does', () => {
    expect(parsePublish('127.0.0.1:8080:80')).toEqual([{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp', range: 1 }]);
  });
});

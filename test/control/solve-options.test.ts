import { describe, expect, test } from 'vitest';
import { checkExporter, planSolve } from '../../src/control/solve-options.js';
import { isTbuildError } from '../../src/errors.js';

/** Frontend attributes as buildx sends them, mapped to build options or refused by name. */
describe('planSolve', () => {
  test('carries out the attributes buildx sends for a plain build', () => {
    const plan = planSolve(
      { filename: 'app.Dockerfile', target: 'prod', 'build-arg:A': '1', 'label:org.x': 'y', 'no-cache': 'base,deps', platform: 'linux/amd64', 'force-network-mode': 'host', 'image-resolve-mode': 'pull', 'context:lib': 'local:lib', 'context:alpine': 'docker-image://alpine:3.19' },
      [],
    );
    expect(plan.filename).toBe('app.Dockerfile');
    expect(plan.options).toMatchObject({ target: 'prod', buildArgs: { A: '1' }, labels: { 'org.x': 'y' }, noCacheFilter: ['base', 'deps'], platform: 'linux/amd64', network: 'host', pull: true, namedContexts: { alpine: 'alpine:3.19' } });
    expect(plan.localContexts).toEqual({ lib: 'lib' });
    expect(plan.warnings).toEqual([]);
    expect(planSolve({ 'no-cache': '' }, []).options.noCache).toBe(true);
    expect(planSolve({ 'add-hosts': 'db=10.0.0.1,gw=host-gateway' }, []).options.addHosts).toEqual(['db:10.0.0.1', 'gw:host-gateway']);
    // a git or tarball URL as the whole context, and as named contexts: fetched by the daemon
    expect(planSolve({ context: 'git://127.0.0.1/app.git#main' }, []).remoteContext).toBe('git://127.0.0.1/app.git#main');
    expect(() => planSolve({ context: 'oci-layout:///x' }, [])).toThrow(/the build context oci-layout:\/\/\/x is not supported/);
    expect(planSolve({ 'context:src': 'https://example.com/x.git#main:sub', 'context:pkg': 'http://127.0.0.1:8/p.tar.gz' }, []).options.remoteContexts).toEqual({
      src: 'https://example.com/x.git#main:sub',
      pkg: 'http://127.0.0.1:8/p.tar.gz',
    });
  });

  test('buildx\'s default provenance request is a warning; any other attestation is refused', () => {
    expect(planSolve({ 'attest:provenance': 'mode=min' }, []).warnings).toEqual([expect.stringContaining('does not produce provenance attestations')]);
    expect(planSolve({ 'attest:provenance': 'disabled=true' }, []).warnings).toEqual([]);
    for (const [k, v] of [['attest:provenance', 'mode=max'], ['attest:sbom', ''], ['attest:sbom', 'generator=x']]) {
      expect(() => planSolve({ [k!]: v! }, []), `${k}=${v}`).toThrow(/attestation/);
    }
  });

  test.each([
    [{ 'add-hosts': 'db' }, /add-hosts entry db/],
    [{ 'context:x': 'oci-layout:///tmp/x' }, /named build context "x" of kind oci-layout:/],
    [{ 'frontend.caps': 'moby.buildkit.frontend.subrequests' }, /frontend capability moby.buildkit.frontend.subrequests/],
    [{ requestid: 'frontend.outline' }, /frontend.outline/],
    [{ 'some-new-attr': '1' }, /frontend attribute "some-new-attr"/],
  ])('refuses %o by name', (attrs, message) => {
    let err: unknown;
    try {
      planSolve(attrs as Record<string, string>, []);
    } catch (e) {
      err = e;
    }
    expect(isTbuildError(err, 'TB_BUILDKIT_UNSUPPORTED')).toBe(true);
    expect((err as Error).message).toMatch(message);
  });

  test('exporter options: known ones pass, others are refused by name', () => {
    expect(() => checkExporter({ type: 'image', attrs: { name: 'a,b', push: 'true' } })).not.toThrow();
    expect(() => checkExporter({ type: 'image', attrs: { 'oci-mediatypes': 'true' } })).toThrow(/"oci-mediatypes" option/);
    expect(() => checkExporter({ type: 'local', attrs: { dest: '/x', platform_split: 'true' } })).toThrow(/platform_split/);
    expect(() => checkExporter({ type: 'registry', attrs: {} })).toThrow(/"registry" exporter/);
  });
});

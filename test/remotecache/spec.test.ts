import { describe, expect, test } from 'vitest';
import { cacheSpecFromAttrs, formatCacheSpec, parseCacheFrom, parseCacheTo, refuseLocalOverApi } from '../../src/remotecache/spec.js';

describe('--cache-to / --cache-from specs', () => {
  test('BuildKit\'s forms, with BuildKit\'s defaults', () => {
    expect(parseCacheTo('type=registry,ref=r.example/app:cache')).toEqual({
      type: 'registry', ref: 'r.example/app:cache', mode: 'min', imageManifest: false, ociMediaTypes: true, ignoreError: false, cacheMounts: false,
    });
    expect(parseCacheTo('r.example/app:cache')).toMatchObject({ type: 'registry', ref: 'r.example/app:cache' });
    expect(parseCacheTo('type=registry,ref=r/a,mode=max,image-manifest=true,ignore-error=true,cache-mounts=true,compression=gzip')).toMatchObject({
      mode: 'max', imageManifest: true, ignoreError: true, cacheMounts: true,
    });
    expect(parseCacheTo('type=local,dest=/tmp/c')).toMatchObject({ type: 'local', dest: '/tmp/c', tag: 'latest' });
    expect(parseCacheTo('type=inline')).toEqual({ type: 'inline' });
    expect(parseCacheFrom('r.example/app:cache')).toEqual({ type: 'registry', ref: 'r.example/app:cache' });
    expect(parseCacheFrom('type=local,src=/tmp/c,tag=v2')).toEqual({ type: 'local', src: '/tmp/c', tag: 'v2' });
    expect(parseCacheFrom('ref=x/y')).toEqual({ type: 'registry', ref: 'x/y' });
  });

  test('what tbuild does not carry out is refused by name', () => {
    const cases: Array<[() => unknown, RegExp]> = [
      [() => parseCacheTo('type=gha'), /cache type "gha" is not supported/],
      [() => parseCacheTo('type=s3,region=x'), /"s3"/],
      [() => parseCacheTo('type=registry,ref=x,compression=zstd'), /compression=zstd/],
      [() => parseCacheTo('type=registry,ref=x,compression-level=9'), /compression-level/],
      [() => parseCacheTo('type=registry,ref=x,force-compression=true'), /force-compression/],
      [() => parseCacheTo('type=registry,ref=x,mode=everything'), /mode=everything/],
      [() => parseCacheTo('type=registry,ref=x,image-manifest=true,oci-mediatypes=false'), /image-manifest=true needs oci-mediatypes=true/],
      [() => parseCacheTo('type=registry,ref=x,ignore-error=maybe'), /ignore-error=maybe is not a boolean/],
      [() => parseCacheTo('type=registry'), /needs ref=/],
      [() => parseCacheTo('type=local'), /needs dest=/],
      [() => parseCacheTo('type=inline,mode=max'), /"mode" is not supported/],
      [() => parseCacheFrom('type=registry,ref=x,mode=max'), /"mode" is not supported/],
      [() => parseCacheFrom('type=local,src=/x,digest=nope'), /digest=nope/],
      [() => parseCacheTo('type=registry,"ref=x'), /unbalanced quote/],
      [() => parseCacheTo('type=registry,junk'), /"junk" is not key=value/],
    ];
    for (const [fn, message] of cases) expect(fn).toThrow(message);
  });

  test('round trip through the daemon\'s form; local caches are refused through a daemon', () => {
    for (const text of ['type=registry,ref=r/a:c,mode=max', 'type=inline', 'type=registry,ref="r/a:c"']) {
      const spec = parseCacheTo(text);
      expect(parseCacheTo(formatCacheSpec(spec))).toEqual(spec);
    }
    expect(cacheSpecFromAttrs('to', 'registry', { ref: 'r/a', mode: 'max' })).toMatchObject({ type: 'registry', ref: 'r/a', mode: 'max' });
    expect(() => refuseLocalOverApi(parseCacheFrom('type=local,src=/x'), '--cache-from')).toThrow(/--cache-from type=local is not supported through a daemon/);
  });
});

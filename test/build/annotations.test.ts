import { describe, expect, test } from 'vitest';
import { parseAnnotationAttr, parseAnnotationFlag, resolveAnnotations } from '../../src/build/annotations.js';
import { parseOutput } from '../../src/cli/commands/build.js';

const host = { os: 'linux', architecture: 'amd64' };

describe('annotations as buildx and BuildKit spell them', () => {
  test('--annotation: the manifest by default, typed, several types at once, one platform', () => {
    expect(parseAnnotationFlag('org.opencontainers.image.title=My App=1')).toEqual([{ type: 'manifest', key: 'org.opencontainers.image.title', value: 'My App=1' }]);
    expect(parseAnnotationFlag('manifest-descriptor:k=v')).toEqual([{ type: 'manifest-descriptor', key: 'k', value: 'v' }]);
    expect(parseAnnotationFlag('index,manifest:k=')).toEqual([
      { type: 'index', key: 'k', value: '' },
      { type: 'manifest', key: 'k', value: '' },
    ]);
    expect(parseAnnotationFlag('manifest[linux/amd64]:k=v')).toEqual([{ type: 'manifest', platform: 'linux/amd64', key: 'k', value: 'v' }]);
    // a key may hold a colon when no type comes first
    expect(parseAnnotationFlag('com.example:port=80')).toEqual([{ type: 'manifest', key: 'com.example:port', value: '80' }]);
    expect(() => parseAnnotationFlag('novalue')).toThrow(/expected \[TYPE:\]KEY=VALUE/);
    expect(() => parseAnnotationFlag('manifest:=v')).toThrow(/needs a key/);
    expect(() => parseAnnotationFlag('layer:k=v')).toThrow(/unrecognized annotation type layer/);
  });

  test('exporter attributes: annotation.K, annotation-TYPE.K, annotation-TYPE[PLATFORM].K; others are not annotations', () => {
    expect(parseAnnotationAttr('annotation.k', 'v')).toEqual({ type: 'manifest', key: 'k', value: 'v' });
    expect(parseAnnotationAttr('annotation-manifest-descriptor.k', 'v')).toEqual({ type: 'manifest-descriptor', key: 'k', value: 'v' });
    expect(parseAnnotationAttr('annotation-manifest[linux/amd64].a.b', 'v')).toEqual({ type: 'manifest', platform: 'linux/amd64', key: 'a.b', value: 'v' });
    expect(parseAnnotationAttr('annotation[linux/amd64].k', 'v')).toEqual({ type: 'manifest', platform: 'linux/amd64', key: 'k', value: 'v' });
    expect(parseAnnotationAttr('name', 'x')).toBeUndefined();
    expect(() => parseAnnotationAttr('annotation-layer.k', 'v')).toThrow(/unrecognized annotation type layer/);
    expect(parseOutput('type=image,name=r/x,annotation.k=v,annotation-manifest[linux/amd64].j=w')).toEqual({
      type: 'image',
      names: ['r/x'],
      annotations: [
        { type: 'manifest', key: 'k', value: 'v' },
        { type: 'manifest', platform: 'linux/amd64', key: 'j', value: 'w' },
      ],
    });
    // not on an output that writes files only
    expect(() => parseOutput('type=local,dest=out,annotation.k=v')).toThrow(/"annotation\.k" is not supported for type=local/);
  });

  test('what one platform can carry is kept; anything else is refused by name', () => {
    const image = [{ type: 'image' as const }];
    const docker = [{ type: 'docker', dest: 'x.tar' }];
    const tar = [{ type: 'tar', dest: 'x.tar' }];
    expect(resolveAnnotations([{ type: 'manifest', key: 'a', value: '1' }, { type: 'manifest', platform: 'linux/x86_64', key: 'b', value: '2' }], host, image)).toEqual({
      manifest: { a: '1', b: '2' },
      manifestDescriptor: {},
    });
    const oci = [{ type: 'oci' as const, dest: 'x.tar', annotations: [{ type: 'manifest-descriptor' as const, key: 'd', value: '3' }] }];
    expect(resolveAnnotations([], host, oci)).toEqual({ manifest: {}, manifestDescriptor: { d: '3' } });
    expect(() => resolveAnnotations([{ type: 'index-descriptor', key: 'a', value: '1' }], host, oci)).toThrow(/index annotations not supported for single platform export/);
    expect(() => resolveAnnotations([{ type: 'manifest', platform: 'linux/arm64/v8', key: 'a', value: '1' }], host, image)).toThrow(/no platform linux\/arm64\/v8 found in source/);
    expect(() => resolveAnnotations([{ type: 'manifest-descriptor', key: 'a', value: '1' }], host, docker)).toThrow(/oci-mediatypes=false/);
    expect(() => resolveAnnotations([{ type: 'manifest', key: 'a', value: '1' }], host, tar)).toThrow(/type=tar writes files only/);
    // on the docker output, beside an oci one that would carry it: still refused, never dropped
    const both = [{ type: 'docker', dest: 'd.tar', annotations: [{ type: 'manifest-descriptor' as const, key: 'd', value: '1' }] }, { type: 'oci', dest: 'o.tar' }];
    expect(() => resolveAnnotations([], host, both)).toThrow(/manifest-descriptor:d on --output type=docker/);
  });
});

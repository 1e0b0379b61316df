import { test, expect, describe } from 'vitest';
import { parseMount, csvFields, mountFrom, parseSize } from '../../src/parser/mount.js';
import { isTbuildError } from '../../src/errors.js';

function mountError(raw: string): { message: string; details: Record<string, unknown> } {
  try {
    parseMount(raw);
  } catch (err) {
    if (isTbuildError(err, 'TB_PARSE_MOUNT')) return err;
    throw err;
  }
  throw new Error(`expected ${raw} to fail`);
}

describe('parseMount', () => {
  test('bind defaults: read-only, type bind when omitted', () => {
    expect(parseMount('target=/ctx')).toEqual({ type: 'bind', readonly: true, target: '/ctx' });
    expect(parseMount('type=bind,src=go.mod,dst=/go.mod,rw')).toEqual({ type: 'bind', readonly: false, source: 'go.mod', target: '/go.mod' });
    expect(parseMount('type=bind,from=build,source=/out,destination=/o,readonly=false').readonly).toBe(false);
    expect(parseMount('type=bind,target=/x,ro=true').readonly).toBe(true);
    expect(parseMount('TYPE=BIND,target=/x').type).toBe('bind');
  });

  test('cache defaults: shared, id = target, 0755, root, writable', () => {
    expect(parseMount('type=cache,target=/root/.cache/')).toMatchObject({ target: '/root/.cache/', id: '/root/.cache' });
    expect(parseMount('type=cache,target=/root/.cache')).toEqual({
      type: 'cache', readonly: false, target: '/root/.cache', id: '/root/.cache', sharing: 'shared', mode: 0o755, uid: 0, gid: 0,
    });
    expect(parseMount('type=cache,target=/c,id=pip,sharing=locked,mode=0700,uid=1000,gid=100,from=base,source=/s')).toEqual({
      type: 'cache', readonly: false, target: '/c', id: 'pip', sharing: 'locked', mode: 0o700, uid: 1000, gid: 100, from: 'base', source: '/s',
    });
  });

  test('a missing target is left to the solver (BuildKit resolves it against the workdir)', () => {
    expect(parseMount('type=bind,source=x')).toEqual({ type: 'bind', readonly: true, source: 'x' });
    expect(parseMount('type=cache,target=rel/dir')).toMatchObject({ target: 'rel/dir', id: 'rel/dir' });
    expect(parseMount('type=tmpfs,env=X,from=s,target=/t')).toMatchObject({ env: 'X', from: 's' });
  });

  test('tmpfs with size', () => {
    expect(parseMount('type=tmpfs,target=/tmp,size=64m')).toEqual({ type: 'tmpfs', readonly: false, target: '/tmp', size: 64 * 1024 * 1024 });
  });

  test('secret defaults', () => {
    expect(parseMount('type=secret,id=npmrc')).toEqual({ type: 'secret', readonly: true, id: 'npmrc', target: '/run/secrets/npmrc', required: false, mode: 0o400, uid: 0, gid: 0 });
    expect(parseMount('type=secret,target=/root/.npmrc,required')).toMatchObject({ id: '.npmrc', target: '/root/.npmrc', required: true });
    expect(parseMount('type=secret,id=tok,env=TOKEN')).toMatchObject({ id: 'tok', env: 'TOKEN' });
    expect(parseMount('type=secret,id=tok,env=TOKEN').target).toBeUndefined();
    expect(parseMount('type=secret,source=npmrc,target=/x/.npmrc')).toMatchObject({ id: 'npmrc', source: 'npmrc', target: '/x/.npmrc' });
    expect(parseMount('type=secret,id=a,required=false,mode=0440,uid=1,gid=2')).toMatchObject({ required: false, mode: 0o440, uid: 1, gid: 2 });
  });

  test('ssh defaults', () => {
    expect(parseMount('type=ssh')).toEqual({ type: 'ssh', readonly: true, id: 'default', required: false, mode: 0o600, uid: 0, gid: 0 });
    expect(parseMount('type=ssh,id=github,target=/agent.sock,required=true')).toMatchObject({ id: 'github', target: '/agent.sock', required: true });
  });

  test('values are expanded when an expander is given', () => {
    const env: Record<string, string> = { T: '/cache', ID: 'x' };
    const expand = (v: string): string => v.replace(/\$(\w+)/g, (_, k: string) => env[k] ?? '');
    expect(parseMount('type=cache,target=$T,id=$ID', expand)).toMatchObject({ target: '/cache', id: 'x' });
  });

  test('errors name the bad key or value', () => {
    const cases: Array<[string, string[]]> = [
      ['type=cahce,target=/c', ['cahce', 'did you mean cache']],
      ['type=nfs,target=/c', ['nfs']],
      ['type=cache,target=/c,sharring=locked', ['sharring', 'did you mean sharing']],
      ['type=cache,target=/c,sharing=exclusive', ['exclusive']],
      ['type=bind,target=/c,mode=0755', ['mode', 'bind']],
      ['type=tmpfs,target=/c,uid=1', ['uid']],
      ['type=bind,target=/c,required', ['required']],
      ['type=cache,target=/c,size=1m', ['size']],
      ['type=tmpfs,target=/c,size=lots', ['lots']],
      ['type=bind,target=/c,sharing=locked', ['sharing']],
      ['type=secret,from=x,id=a', ['from']],
      ['type=secret', ['secret']],
      ['type=secret,env=TOKEN', ['secret']],
      ['type=secret,id=a,source=b', ['source']],
      ['type=bind,dest=/x', ['dest', 'did you mean dst']],
      ['type=tmpfs,target=/x,bogus', ['bogus']],
      ['type=cache,target=/c,mode=999', ['999']],
      ['type=cache,target=/c,uid=-1', ['-1']],
      ['type=bind,target=/c,ro=maybe', ['maybe']],
      ['"type=bind,target=/c', ['"']],
      ['type=bi"nd,target=/c', ['"']],
    ];
    for (const [raw, words] of cases) {
      const err = mountError(raw);
      for (const w of words) expect(err.message, raw).toContain(w);
    }
  });
});

test('csv fields follow Go encoding/csv quoting', () => {
  expect(csvFields('a=1,b=2')).toEqual(['a=1', 'b=2']);
  expect(csvFields('"target=/a,b",type=bind')).toEqual(['target=/a,b', 'type=bind']);
  expect(csvFields('"x=say ""hi"""')).toEqual(['x=say "hi"']);
  expect(csvFields('')).toEqual(['']);
});

test('mountFrom reads only from=', () => {
  expect(mountFrom('type=bind,from=build,target=/x')).toBe('build');
  expect(mountFrom('FROM=Build,target=$X')).toBe('Build');
  expect(mountFrom('type=cache,target=/x')).toBeUndefined();
});

test('parseSize uses binary multiples', () => {
  expect(parseSize('512')).toBe(512);
  expect(parseSize('1k')).toBe(1024);
  expect(parseSize('1.5GiB')).toBe(1.5 * 1024 ** 3);
  expect(parseSize('2 MB')).toBe(2 * 1024 ** 2);
  expect(parseSize('x')).toBeUndefined();
});

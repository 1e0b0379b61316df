import { describe, test, expect } from 'vitest';
import { fakeImages } from '../../support/fake-images.js';
import { parseDockerfile } from '../../../src/parser/parse.js';
import { resolveDockerfile } from '../../../src/parser/resolve.js';
import { convert } from '../../../src/frontend/dockerfile/index.js';
import { isTbuildError } from '../../../src/errors.js';

async function conv(text: string, opts: { buildArgs?: Record<string, string>; target?: string } = {}) {
  const df = parseDockerfile(text, { file: 'Dockerfile' });
  const resolved = resolveDockerfile(df, { buildArgs: opts.buildArgs ?? {}, target: opts.target });
  return convert(resolved, fakeImages(), {
    buildArgs: opts.buildArgs ?? {},
    network: 'none',
    file: 'Dockerfile',
    platform: { os: 'linux', architecture: 'amd64' },
  });
}

const createdBy = (c: Awaited<ReturnType<typeof conv>>) => c.target.history.slice(1).map((h) => h.created_by);

describe('convert', () => {
  test('history text like BuildKit, with empty_layer on config-only steps', async () => {
    const c = await conv(
      [
        'FROM busybox:local',
        'ARG A=1',
        'ENV E=x F=$E',
        'RUN echo hi',
        'COPY --chmod=644 a.txt b.txt /app/',
        'WORKDIR /app',
        'LABEL k=v',
        'EXPOSE 80 53/udp',
        'VOLUME /v',
        'USER app',
        'CMD ["sh"]',
        'MAINTAINER Jane',
      ].join('\n'),
    );
    expect(createdBy(c)).toEqual([
      'ARG A=1',
      'ENV E=x F=',
      'RUN |1 A=1 /bin/sh -c echo hi # buildkit',
      'COPY --chmod=644 a.txt b.txt /app/ # buildkit',
      'WORKDIR /app',
      'LABEL k=v',
      'EXPOSE map[53/udp:{} 80/tcp:{}]',
      'VOLUME [/v]',
      'USER app',
      'CMD ["sh"]',
      'MAINTAINER Jane',
    ]);
    const h = c.target.history.slice(1);
    expect(h.filter((e) => e.layer).map((e) => (e.created_by ?? '').split(' ')[0])).toEqual(['RUN', 'COPY', 'WORKDIR']);
    expect(h.filter((e) => !e.layer).every((e) => e.empty_layer)).toBe(true);
    const cfg = c.target.image.config;
    expect(cfg.Env).toContain('F=');
    expect(cfg.ExposedPorts).toEqual({ '80/tcp': {}, '53/udp': {} });
    expect(cfg.WorkingDir).toBe('/app');
    expect(c.target.image.author).toBe('Jane');
  });

  test("step counters count a stage's vertices as BuildKit's do: no gaps for ENV/ARG/CMD, no FROM of a stage", async () => {
    // the numbers dockerd 26's BuildKit printed for this Dockerfile
    const c = await conv(['FROM busybox:local AS base', 'ENV A=1', 'RUN echo one', 'ARG X', 'WORKDIR /w', 'COPY f /f', 'CMD ["sh"]', 'FROM base', 'LABEL a=b', 'RUN echo two', 'EXPOSE 80', 'RUN echo three'].join('\n'));
    const names = [...c.definition.meta.values()].map((m) => m.name).filter((n) => n.startsWith('[base') || n.startsWith('[stage-1'));
    expect(names).toEqual(['[base 1/4] FROM docker.io/library/busybox:local', '[base 2/4] RUN echo one', '[base 3/4] WORKDIR /w', '[base 4/4] COPY f /f', '[stage-1 1/2] RUN echo two', '[stage-1 2/2] RUN echo three']);
  });

  test('ENTRYPOINT drops an inherited CMD but keeps one set earlier in the stage', async () => {
    const inherited = await conv('FROM busybox:local\nENTRYPOINT ["/bin/echo"]\n');
    expect(inherited.target.image.config.Cmd).toBeNull();
    const kept = await conv('FROM busybox:local\nCMD ["a"]\nENTRYPOINT echo\n');
    expect(kept.target.image.config.Cmd).toEqual(['a']);
    expect(kept.target.image.config.Entrypoint).toEqual(['/bin/sh', '-c', 'echo']);
  });

  test('only the stages the target needs are converted; relative WORKDIRs chain', async () => {
    const c = await conv(
      'FROM busybox:local AS unused\nRUN echo unused\nFROM busybox:local AS base\nWORKDIR a\nWORKDIR b/../c\nFROM base\nRUN pwd\n',
    );
    expect([...c.stages.keys()].sort()).toEqual([1, 2]);
    expect(c.target.image.config.WorkingDir).toBe('/a/c');
    const names = [...c.definition.meta.values()].map((m) => m.name);
    expect(names.some((n) => n.includes('echo unused'))).toBe(false);
  });

  test('FROM scratch gets the default PATH; ONBUILD triggers of a base stage run after FROM and are cleared', async () => {
    const s = await conv('FROM scratch\nCOPY a /a\n');
    expect(s.target.image.config.Env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
    const o = await conv('FROM busybox:local AS p\nONBUILD RUN echo triggered\nFROM p\nRUN echo after\n');
    expect(o.target.image.config.OnBuild).toBeNull();
    expect(createdBy(o)).toContain('RUN /bin/sh -c echo triggered # buildkit');
  });

  test('the same Dockerfile reformatted gives the same vertex digests', async () => {
    const a = await conv('FROM busybox:local\nRUN echo a\nCOPY x /x\n');
    const b = await conv('# comment\nFROM busybox:local\n\nRUN echo a\n# another\nCOPY x \\\n   /x\n');
    expect(b.target.vertex).toBe(a.target.vertex);
  });

  test('COPY --link: the copy vertex is the same whatever the stage before it', async () => {
    const copyOf = async (text: string) => {
      const c = await conv(text);
      const merge = c.definition.vertices.get(c.target.vertex)!;
      expect(merge.op.type).toBe('merge');
      return merge.inputs[1];
    };
    const a = await copyOf('FROM busybox:local\nRUN echo one\nCOPY --link a /a\n');
    const b = await copyOf('FROM busybox:local\nRUN echo two\nCOPY --link a /a\n');
    expect(a).toBe(b);
  });

  test('bad EXPOSE port and unknown base image are coded errors with the line', async () => {
    const e1 = await conv('FROM busybox:local\nEXPOSE notaport\n').catch((e: unknown) => e);
    expect(isTbuildError(e1, 'TB_BAD_PORT')).toBe(true);
    expect((e1 as { range?: { startLine: number } }).range?.startLine).toBe(2);
    const e2 = await conv('FROM nope:1\n').catch((e: unknown) => e);
    expect(isTbuildError(e2, 'TB_IMAGE_NOT_FOUND')).toBe(true);
  });

  test('RUN --mount options become exec mounts; secret ids stay, no values', async () => {
    const c = await conv(
      'FROM busybox:local\nRUN --mount=type=cache,target=/root/.cache,sharing=locked --mount=type=secret,id=tok --mount=type=tmpfs,target=/t true\n',
    );
    const v = c.definition.vertices.get(c.target.vertex)!;
    expect(v.op.type).toBe('exec');
    if (v.op.type !== 'exec') return;
    expect(v.op.network).toBe('none');
    expect(v.op.mounts).toEqual([
      { type: 'cache', target: '/root/.cache', id: '/root/.cache', sharing: 'locked', readonly: false, uid: 0, gid: 0, mode: 0o755, input: undefined, source: undefined },
      { type: 'secret', target: '/run/secrets/tok', id: 'tok', env: undefined, required: false, mode: 0o400, uid: 0, gid: 0 },
      { type: 'tmpfs', target: '/t', size: undefined },
    ]);
  });
});

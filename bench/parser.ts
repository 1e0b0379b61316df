/**
 * Parser figures: parse + resolve of a generated 2,000-line Dockerfile (every instruction kind,
 * continuations, heredocs, mounts, multi-stage references), median of 20 runs after a warm-up.
 */
import { parseDockerfile } from '../src/parser/parse.js';
import { resolveDockerfile } from '../src/parser/resolve.js';
import { runChecks } from '../src/parser/checks/index.js';
import { median, type BenchRow } from './types.js';

/** A deterministic Dockerfile of at least `lines` lines (whole stages, so heredocs stay closed). */
export function generateDockerfile(lines: number): string {
  const out: string[] = ['# syntax=docker/dockerfile:1.7', 'ARG BASE=busybox:local', 'ARG VERSION=1.0'];
  let stage = 0;
  const block = (): string[] => {
    const s = stage++;
    const from = s === 0 ? 'FROM --platform=$BUILDPLATFORM ${BASE} AS s0' : `FROM s${s - 1} AS s${s}`;
    return [
      from,
      'ARG VERSION',
      `ARG N=${s} M="two words"`,
      `ENV PATH=/opt/s${s}/bin:$PATH HOME=/root LANG=C.UTF-8`,
      `LABEL org.example.stage="${s}" version=$VERSION`,
      `WORKDIR /src/s${s}`,
      `RUN --mount=type=cache,target=/root/.cache,id=c${s} --mount=type=bind,from=${s ? 's0' : 'busybox:local'},source=/,target=/s0 \\`,
      '    set -eux; \\',
      '    # a comment inside the continuation',
      '    apt-get update && apt-get install -y --no-install-recommends \\',
      '        ca-certificates curl git \\',
      '    && rm -rf /var/lib/apt/lists/*',
      'RUN <<EOF',
      `echo stage ${s}`,
      'echo "$N $M"',
      'EOF',
      `COPY --chown=1000:1000 --chmod=0644 --link a${s}.txt b${s}.txt /dst/`,
      `COPY --from=${s ? 's0' : 'busybox:local'} /etc/passwd /etc/passwd.s${s}`,
      'COPY <<-CONF /etc/app.conf',
      `\tkey=${s}`,
      '\tCONF',
      'ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2015d0a8e9a66f2e https://example.com/x.tar /x/',
      'EXPOSE 80/tcp 443',
      'VOLUME ["/data"]',
      'USER 1000:1000',
      'HEALTHCHECK --interval=30s --timeout=3s --retries=3 CMD ["wget", "-q", "-O-", "http://localhost/"]',
      'ONBUILD RUN echo triggered',
      'SHELL ["/bin/sh", "-ec"]',
      'STOPSIGNAL SIGTERM',
      'ENTRYPOINT ["/entrypoint.sh"]',
      `CMD ["run", "--stage", "${s}"]`,
      '',
    ];
  };
  while (out.length < lines) out.push(...block());
  return out.join('\n') + '\n';
}

export async function bench(): Promise<BenchRow[]> {
  const text = generateDockerfile(2000);
  const run = (): void => {
    const df = parseDockerfile(text);
    resolveDockerfile(df, { buildArgs: { VERSION: '2.0' } });
  };
  for (let i = 0; i < 20; i++) run();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < 20; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    run();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const lines = text.split('\n').length - 1;
  const ms = median(wall);
  const cpuMs = median(cpu);
  // On a shared machine the wall clock includes time spent descheduled; CPU time does not.
  return [
    {
      area: 'parser',
      name: 'parse+resolve 2,000-line Dockerfile',
      value: Number(ms.toFixed(2)),
      unit: 'ms',
      target: '< 50 ms',
      met: ms < 50,
      note: `${lines} lines; median of 20; min ${Math.min(...wall).toFixed(2)} ms, max ${Math.max(...wall).toFixed(2)} ms`,
    },
    {
      area: 'parser',
      name: 'parse+resolve 2,000-line Dockerfile (CPU time)',
      value: Number(cpuMs.toFixed(2)),
      unit: 'ms',
      target: '< 50 ms',
      met: cpuMs < 50,
      note: 'median of the same 20 runs, process CPU time (user+system)',
    },
    ...checkScaling(),
  ];
}

/** ARG/ENV-heavy Dockerfile of `n` lines: the shape that made the checks quadratic. */
function argEnvDockerfile(n: number): string {
  const lines = ['# check=experimental=all', 'FROM busybox:local'];
  for (let i = 0; lines.length < n; i++) lines.push(`ARG A${i}=v${i}`, `ENV E${i}=\${A${i}}`, `# A${i} describes it`);
  return lines.join('\n') + '\n';
}

/** parse + build checks at 5,000 and 50,000 lines: the ratio says linear (~10) or quadratic (~100). */
function checkScaling(): BenchRow[] {
  const time = (n: number): number => {
    const text = argEnvDockerfile(n);
    const runs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      runChecks(parseDockerfile(text), { buildArgs: {} });
      runs.push(performance.now() - t0);
    }
    return median(runs);
  };
  const small = time(5_000);
  const big = time(50_000);
  return [
    { area: 'parser', name: 'checks of a 5,000-line ARG/ENV Dockerfile', value: Number(small.toFixed(1)), unit: 'ms', target: '< 1000 ms', met: small < 1000, note: 'median of 3' },
    { area: 'parser', name: 'checks: 50,000 lines / 5,000 lines', value: Number((big / small).toFixed(1)), unit: 'x', target: '< 20 (linear ~10)', met: big / small < 20, note: `${big.toFixed(0)} ms at 50,000 lines` },
  ];
}

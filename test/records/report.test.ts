import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { isRoot, mountsUnder, tempDir } from '../support/tmp.js';
import { BUSYBOX_TAR, runCli } from '../support/cli.js';

const run = promisify(execFile);

/** `tbuild builds report`: one HTML page per build, checked in Debian's chromium (headless). */
describe.runIf(isRoot)('build report', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let root: string;
  let report: string;
  const cli = (args: string[]) => runCli(args, { root });

  beforeAll(async () => {
    tmp = await tempDir('tb-report-');
    root = join(tmp.path, 'root');
    const ctx = join(tmp.path, 'ctx');
    await mkdir(ctx);
    // two stages side by side, then a step on both: the critical path runs through the slower one
    await writeFile(
      join(ctx, 'Dockerfile'),
      'FROM busybox:local AS fast\nRUN echo fast > /f\nFROM busybox:local AS slow\nRUN sleep 1 && echo "<slow & steady>" > /s && cat /s\nFROM busybox:local\nARG FLAVOUR\nCOPY --from=fast /f /f\nCOPY --from=slow /s /s\nRUN cat /f /s\n',
    );
    expect((await cli(['load', '-i', BUSYBOX_TAR])).code).toBe(0);
    expect((await cli(['build', '--network', 'none', '--build-arg', 'FLAVOUR=mint', '-t', 'rep:x', ctx])).code).toBe(0);
    report = join(tmp.path, 'report.html');
    const r = await cli(['builds', 'report', 'last', '-o', report]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  }, 120_000);

  afterAll(async () => {
    expect(await mountsUnder(tmp.path)).toEqual([]);
    await tmp.cleanup();
  });

  test('the page: summary, args, a waterfall with every step and the critical path, outputs folded', async () => {
    const html = await readFile(report, 'utf8');
    const record = JSON.parse((await cli(['builds', 'inspect', 'last', '--format', 'json'])).stdout) as { id: string; steps: Array<{ index: number; name: string }> };
    expect(html).toContain(`<code>${record.id}</code>`);
    // the Dockerfile was read from the context: its digest is recorded all the same
    const dockerfile = await readFile(join(tmp.path, 'ctx', 'Dockerfile'));
    expect(JSON.parse((await cli(['builds', 'inspect', 'last', '--format', 'json'])).stdout).dockerfile.digest).toBe(`sha256:${createHash('sha256').update(dockerfile).digest('hex')}`);
    expect(html).toMatch(/<tr><th>FLAVOUR<\/th><td><code>mint<\/code><\/td><\/tr>/);
    const svg = html.slice(html.indexOf('<svg id="waterfall"'), html.indexOf('</svg>'));
    const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    for (const s of record.steps) expect(svg).toContain(esc(s.name).slice(0, 40));
    const critical = [...svg.matchAll(/<rect class="bar [a-z]+ critical" data-step="(\d+)"/g)].map((m) => Number(m[1]));
    const name = (i: number) => record.steps.find((s) => s.index === i)!.name;
    expect(critical.map(name).some((n) => n.includes('sleep 1'))).toBe(true);
    expect(critical.map(name).some((n) => n.includes('RUN echo fast'))).toBe(false);
    // the output of a step, escaped, inside its folded section
    expect(html).toMatch(/<details><summary>output \(\d+ bytes\)<\/summary><pre>[^]*&#60;slow &#38; steady&#62;/);
    expect(html).not.toMatch(/<script|https?:\/\//);
  });

  test('it opens and renders in a headless browser', async () => {
    const profile = join(tmp.path, 'chromium');
    const flags = ['--headless', '--no-sandbox', '--disable-gpu', `--user-data-dir=${profile}`, '--window-size=1000,1400'];
    const { stdout } = await run('chromium', [...flags, '--dump-dom', `file://${report}`], { maxBuffer: 64 << 20 });
    const steps = (JSON.parse((await cli(['builds', 'inspect', 'last', '--format', 'json'])).stdout) as { steps: unknown[] }).steps.length;
    expect(stdout).toContain('<svg id="waterfall"');
    // one bar per step in the lanes strip and one in its row
    expect(stdout.match(/<rect class="bar /g)?.length).toBe(2 * steps);
    expect(stdout).toMatch(/<span class="status completed">completed<\/span>/);
    const png = join(tmp.path, 'report.png');
    await run('chromium', [...flags, `--screenshot=${png}`, `file://${report}`]);
    expect((await stat(png)).size).toBeGreaterThan(20_000);
  }, 120_000);
});

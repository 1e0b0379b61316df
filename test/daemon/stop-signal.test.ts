import { describe, expect, test } from 'vitest';
import { isRoot } from '../support/tmp.js';
import { hasDocker } from './support/docker.js';
import { busyboxDaemon } from './support/busybox-daemon.js';

/** `docker stop -s` / `docker restart -s` (the API's `signal`), and signals checked before anything is signalled. */
describe.runIf(hasDocker && isRoot)('stop and restart signals (Docker CLI)', () => {
  const d = busyboxDaemon('tb-stopsig-');

  test('stop -s KILL and restart -s KILL signal at once instead of waiting out the timeout', async () => {
    // sleep as PID 1 ignores SIGTERM: only the signal asked for ends it before the 30 s timeout
    expect((await d.docker(['run', '-d', '--name', 'sig1', 'busybox:local', 'sleep', '300'])).code).toBe(0);
    let started = Date.now();
    const stop = await d.docker(['stop', '-t', '30', '-s', 'KILL', 'sig1']);
    expect(stop.code, stop.stderr).toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect((await d.docker(['inspect', '-f', '{{.State.ExitCode}}', 'sig1'])).stdout.trim()).toBe('137');
    expect((await d.docker(['start', 'sig1'])).code).toBe(0);
    started = Date.now();
    const restart = await d.docker(['restart', '-t', '30', '-s', 'SIGKILL', 'sig1']);
    expect(restart.code, restart.stderr).toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect((await d.docker(['inspect', '-f', '{{.State.Running}}', 'sig1'])).stdout.trim()).toBe('true');
  }, 120_000);

  test('an unknown signal is refused by name, and the container keeps running', async () => {
    for (const args of [['kill', '-s', 'BOGUS', 'sig1'], ['stop', '-s', 'BOGUS', 'sig1']]) {
      const r = await d.docker(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr).toMatch(/Invalid signal: BOGUS/);
    }
    expect((await d.docker(['inspect', '-f', '{{.State.Running}}', 'sig1'])).stdout.trim()).toBe('true');
    const run = await d.docker(['run', '-d', '--stop-signal', 'BOGUS', 'busybox:local', 'true']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/Invalid signal: BOGUS/);
  }, 120_000);
});

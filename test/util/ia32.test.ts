import { spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect } from 'vitest';
import { ia32Runs, probeIa32 } from '../../src/util/ia32.js';
import { hostPlatform } from '../../src/exec/security/seccomp.js';
import { tempDir } from '../support/tmp.js';
import { warmSpawnHelper } from '../../src/util/spawn-server.js';

// exit(42) through int 0x80 as a static i386 ELF, made apart from the probe's own copy
const ELF32 =
  '7f454c460101010000000000000000000200030001000000548004083400000000000000000000003400200001000000' +
  '000000000100000000000000008004080080040860000000600000000500000000100000b801000000bb2a000000cd80';

test.runIf(process.arch === 'x64')('the probe says what the kernel does with a 32-bit x86 program, and the seccomp filter follows it', async () => {
  const dir = await tempDir();
  const file = join(dir.path, 'exit42');
  writeFileSync(file, Buffer.from(ELF32, 'hex'));
  chmodSync(file, 0o755);
  // bash reports a refused binary itself (126) instead of running it as a script
  const r = spawnSync('/bin/bash', ['-c', `"${file}"`], { encoding: 'utf8' });
  const runs = r.status === 42;
  if (!runs) expect(r.stderr).toMatch(/Exec format error|cannot execute/);

  // the probe's scratch goes in a temp dir of this test's own (other test files probe at the same time)
  const scratch = await tempDir();
  warmSpawnHelper(); // (its own FIFO directory stays where it was)
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = scratch.path;
  try {
    expect(tmpdir()).toBe(scratch.path);
    expect(await probeIa32()).toBe(runs);
    expect(ia32Runs()).toBe(runs);
    expect(await probeIa32()).toBe(runs); // asked once per process
    expect(readdirSync(scratch.path)).toEqual([]);
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    await scratch.cleanup();
  }

  // an architecture no process can use is not compiled into every container's filter
  expect(hostPlatform().missingArches?.includes('SCMP_ARCH_X86')).toBe(!runs);
  await dir.cleanup();
});

import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnViaHelper } from './spawn-server.js';

/**
 * Whether this x86_64 kernel runs 32-bit x86 code. A kernel built with IA32_EMULATION can still
 * refuse it: disabled at boot (`ia32_emulation=`), or by the platform it runs on (a PVM guest:
 * its config says yes, yet a 32-bit ELF gets ENOEXEC and `int 0x80` a SIGSEGV — since 6.7 one
 * switch gates both). Only trying tells, so we exec a tiny static i386 program once per process.
 * When 32-bit code cannot run, the seccomp filter leaves out the x86 architecture (half of runc's
 * filter compile per container) and a linux/386 build is emulated or refused, not run natively.
 */

/** `_start: mov eax,1; mov ebx,42; int 0x80` — exit(42) as an ELF32 executable, 96 bytes. */
function exit42Elf(): Buffer {
  const base = 0x08048000;
  const ehsize = 52;
  const phsize = 32;
  const code = Buffer.from([0xb8, 1, 0, 0, 0, 0xbb, 42, 0, 0, 0, 0xcd, 0x80]);
  const eh = Buffer.alloc(ehsize);
  eh.write('\x7fELF', 0, 'latin1');
  eh.set([1, 1, 1], 4); // 32-bit, little-endian, ELF version 1
  eh.writeUInt16LE(2, 16); // ET_EXEC
  eh.writeUInt16LE(3, 18); // EM_386
  eh.writeUInt32LE(1, 20);
  eh.writeUInt32LE(base + ehsize + phsize, 24); // entry
  eh.writeUInt32LE(ehsize, 28); // program headers right after this one
  eh.writeUInt16LE(ehsize, 40);
  eh.writeUInt16LE(phsize, 42);
  eh.writeUInt16LE(1, 44);
  const size = ehsize + phsize + code.length;
  const ph = Buffer.alloc(phsize);
  ph.writeUInt32LE(1, 0); // PT_LOAD of the whole file
  ph.writeUInt32LE(base, 8);
  ph.writeUInt32LE(base, 12);
  ph.writeUInt32LE(size, 16);
  ph.writeUInt32LE(size, 20);
  ph.writeUInt32LE(5, 24); // R+X
  ph.writeUInt32LE(0x1000, 28);
  return Buffer.concat([eh, ph, code]);
}

const PROBE_TIMEOUT_MS = 2000;

let probe: Promise<boolean | undefined> | undefined;
let known: boolean | undefined;

/**
 * True when 32-bit x86 programs run here, false when the kernel refuses them, undefined when that
 * cannot be told (not an x86_64 host, a noexec temp dir, no helper): callers then keep to what
 * the kernel's config says.
 */
export function probeIa32(): Promise<boolean | undefined> {
  probe ??= process.arch === 'x64' ? tryIa32().then((v) => (known = v), () => undefined) : Promise.resolve(undefined);
  return probe;
}

/** The probe's answer once it has one (see probeIa32). */
export function ia32Runs(): boolean | undefined {
  return known;
}

async function tryIa32(): Promise<boolean | undefined> {
  let dir: string | undefined;
  try {
    dir = await mkdtemp(join(tmpdir(), 'tbuild-ia32-'));
    const file = join(dir, 'exit42');
    await writeFile(file, exit42Elf());
    await chmod(file, 0o755);
    // the helper execs directly (no shell falling back to run it as a script, as execvp does)
    const child = await spawnViaHelper([file], { env: {} });
    // every container waits for the answer: a probe that hangs is no answer
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), PROBE_TIMEOUT_MS)));
    const ended = await Promise.race([child.exited, late]).finally(() => clearTimeout(timer));
    if (!ended) child.kill('SIGKILL');
    return ended?.code === 42 ? true : undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOEXEC' ? false : undefined;
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

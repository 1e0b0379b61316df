/**
 * `tbuild cp CTR:SRC DEST` and `tbuild cp SRC CTR:DEST`, through the container archive API (the
 * engine freezes a running container and resolves paths inside its root, so a container cannot
 * redirect the copy onto the host). On the host side, a container's archive is unpacked with the
 * layer extractor confined to the destination directory.
 */
import { spawn } from 'node:child_process';
import { lstat, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import type { RegisterCommand } from '../context.js';
import { TbuildError } from '../../errors.js';
import { applyTar } from '../../cache/layer/index.js';
import { byteMeter } from '../progress/bytes.js';
import { humanSize } from './images-format.js';

/** `name:path` names a container path; a local path with a colon is written `./a:b`. */
export function splitCpArg(arg: string): { container?: string; path: string } {
  if (arg.startsWith('/') || arg.startsWith('.')) return { path: arg };
  const i = arg.indexOf(':');
  if (i <= 0) return { path: arg };
  return { container: arg.slice(0, i), path: arg.slice(i + 1) || '/' };
}

const isDirMode = (mode: number) => (mode & 0o170000) === 0o040000;

export const registerCp: RegisterCommand = (program, ctx) => {
  program
    .command('cp')
    .description('copy files between a container and the local filesystem (CONTAINER:SRC DEST or SRC CONTAINER:DEST)')
    .argument('<src>')
    .argument('<dest>')
    .option('-q, --quiet', 'suppress progress output during copy')
    .action(async (srcArg: string, destArg: string, opts: { quiet?: boolean }) => {
      const src = splitCpArg(srcArg);
      const dest = splitCpArg(destArg);
      if (Boolean(src.container) === Boolean(dest.container)) {
        throw new TbuildError('TB_INVALID_ARGUMENT', 'copying between containers or between local paths is not supported: exactly one side must be CONTAINER:PATH');
      }
      const containers = (await ctx.engine()).containers;
      // As Docker's: bytes so far on a terminal, then what was copied where; nothing otherwise.
      const meter = (label: string) => byteMeter(label, ctx.stderr as NodeJS.WriteStream, { quiet: Boolean(opts.quiet) });
      const report = (m: ReturnType<typeof meter>, where: string) => {
        m.done();
        if (!opts.quiet && (ctx.stderr as NodeJS.WriteStream).isTTY) ctx.stderr.write(`Successfully copied ${humanSize(m.bytes())} to ${where}\n`);
      };
      if (src.container) {
        const m = meter('Copying from container -');
        const archive = await containers.getArchive(src.container, src.path);
        archive.tar.on('error', (e) => m.counter.destroy(e));
        const tar = archive.tar.pipe(m.counter);
        const target = resolve(dest.path);
        const st = await lstat(target).catch(() => undefined);
        if (st?.isDirectory()) {
          await applyTar(tar, target, { whiteouts: false });
          report(m, target);
          return;
        }
        if (st) throw new TbuildError('TB_INVALID_ARGUMENT', `cannot overwrite non-directory ${target} with a copy`);
        // Unpack next to the destination, then give the single top entry the destination's name.
        const stage = await mkdtemp(`${dirname(target)}/.tbuild-cp-`);
        try {
          await applyTar(tar, stage, { whiteouts: false });
          const top = await readdir(stage);
          if (top.length !== 1) throw new TbuildError('TB_INVALID_ARGUMENT', `unexpected archive from the container (${top.length} top entries)`);
          await rename(`${stage}/${top[0]}`, target);
        } finally {
          await rm(stage, { recursive: true, force: true });
        }
        report(m, target);
        return;
      }
      const local = resolve(src.path);
      await lstat(local).catch(() => {
        throw new TbuildError('TB_INVALID_ARGUMENT', `no such file or directory: ${src.path}`);
      });
      // A missing or non-directory destination is the new name of the copy, in its parent.
      const probe = await containers.getArchive(dest.container!, dest.path).catch(() => undefined);
      probe?.tar.destroy();
      const intoDir = probe && isDirMode(probe.stat.mode);
      const dir = intoDir ? dest.path : dirname(dest.path.replace(/\/+$/, '')) || '/';
      const args = ['-c', '-C', dirname(local)];
      if (!intoDir) args.push('--transform', `s,^${basename(local).replace(/[,\\\\.*[\]^$]/g, '\\$&')},${basename(dest.path.replace(/\/+$/, ''))},`);
      args.push('--', basename(local));
      const child = spawn('tar', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const err: Buffer[] = [];
      child.stderr.on('data', (d: Buffer) => err.push(d));
      const exited = new Promise<number>((r) => child.on('close', (c) => r(c ?? 1)));
      // Through a plain PassThrough: the extractor reads it like any other stream (a child's pipe
      // handed over directly ended empty in the embedded engine).
      const body = new PassThrough();
      const m = meter('Copying to container -');
      child.stdout.pipe(m.counter).pipe(body);
      // as docker cp: a file never replaces a directory there, nor a directory a file
      await containers.putArchive(dest.container!, dir, body, { noOverwriteDirNonDir: true });
      if ((await exited) !== 0) throw new TbuildError('TB_INVALID_ARGUMENT', `tar: ${Buffer.concat(err).toString().trim()}`);
      report(m, `${dest.container}:${dest.path}`);
    });
};

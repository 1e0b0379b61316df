import { posix } from 'node:path';
import type { Digest } from '../../util/digest.js';
import type { Heredoc, MountSpec, RunInstruction } from '../../parser/types.js';
import { parseMount } from '../../parser/mount.js';
import { PROXY_ARGS } from '../../parser/scope.js';
import { TbuildError, withRange } from '../../errors.js';
import { entitlementDenied } from '../../exec/security/entitlements.js';
import { formatPlatform, runsNatively } from '../../util/platform.js';
import type { ExecMount, ExecOp, InlineFile } from '../../solver/graph/types.js';
import type { ConvertContext } from './context.js';
import { shellOf, workdirOf, type StageState } from './state.js';

/** Where a RUN heredoc with a shebang is mounted and run from, as BuildKit does. */
const PIPES_DIR = '/dev/pipes';

function heredocMarker(word: string): string | undefined {
  const m = /^<<-?(["']?)([^"'\s]+)\1$/.exec(word.trim());
  return m?.[2];
}

/** Command words of a RUN, heredocs folded in (a lone heredoc is the script; otherwise the shell reads them). */
function runArgs(state: StageState, ins: RunInstruction): { args: string[]; inline: InlineFile[] } {
  const shell = shellOf(state);
  if (ins.command.type === 'exec') return { args: [...ins.command.args], inline: [] };
  const command = ins.command.command;
  if (ins.heredocs.length === 0) return { args: [...shell, command], inline: [] };
  const only = ins.heredocs.length === 1 ? ins.heredocs[0]! : undefined;
  if (only && only.fileDescriptor === undefined && heredocMarker(command) === only.name) {
    if (only.content.startsWith('#!')) {
      // run through the shell, as BuildKit does, so the history reads `/bin/sh -c /dev/pipes/EOF`
      return {
        args: [...shell, posix.join(PIPES_DIR, only.name)],
        inline: [{ dir: PIPES_DIR, name: only.name, content: only.content, mode: 0o755 }],
      };
    }
    return { args: [...shell, only.content], inline: [] };
  }
  // the shell handles `<<EOF` itself once the bodies follow the command line
  const script = [command, ...ins.heredocs.map((h: Heredoc) => `${h.content}${h.content.endsWith('\n') || h.content === '' ? '' : '\n'}${h.name}`)].join('\n');
  return { args: [...shell, script], inline: [] };
}

function execMount(ctx: ConvertContext, state: StageState, spec: MountSpec, inputs: Digest[], pending: Array<Promise<void>>, sshIndex: number): ExecMount {
  const fromInput = (from: string | undefined): number | undefined => {
    if (from === undefined) return undefined;
    const index = inputs.length;
    inputs.push('' as Digest);
    pending.push(
      ctx.fromSource(from, state.index).then((d) => {
        inputs[index] = d;
      }),
    );
    return index;
  };
  const target = spec.target ? posix.resolve(workdirOf(state), spec.target) : undefined;
  switch (spec.type) {
    case 'bind':
      if (!target) throw new TbuildError('TB_PARSE_MOUNT', 'bind mount needs a target');
      return { type: 'bind', target, input: fromInput(spec.from), source: spec.source ?? '/', readonly: spec.readonly };
    case 'cache':
      if (!target) throw new TbuildError('TB_PARSE_MOUNT', 'cache mount needs a target');
      return {
        type: 'cache',
        target,
        id: spec.id || target,
        sharing: spec.sharing ?? 'shared',
        readonly: spec.readonly,
        uid: spec.uid ?? 0,
        gid: spec.gid ?? 0,
        mode: spec.mode ?? 0o755,
        input: fromInput(spec.from),
        source: spec.source,
      };
    case 'tmpfs':
      if (!target) throw new TbuildError('TB_PARSE_MOUNT', 'tmpfs mount needs a target');
      return { type: 'tmpfs', target, size: spec.size };
    case 'secret': {
      const id = spec.id || (spec.target ? posix.basename(spec.target) : '');
      if (!id) throw new TbuildError('TB_PARSE_MOUNT', 'secret mount needs an id or a target');
      const secretTarget = spec.env && !spec.target ? undefined : (target ?? posix.join('/run/secrets', id));
      return {
        type: 'secret',
        target: secretTarget,
        id,
        env: spec.env,
        required: spec.required ?? false,
        mode: spec.mode ?? 0o400,
        uid: spec.uid ?? 0,
        gid: spec.gid ?? 0,
      };
    }
    case 'ssh':
      return {
        type: 'ssh',
        target: target ?? `/run/buildkit/ssh_agent.${sshIndex}`,
        id: spec.id || 'default',
        required: spec.required ?? false,
        mode: spec.mode ?? 0o600,
        uid: spec.uid ?? 0,
        gid: spec.gid ?? 0,
      };
  }
}

/**
 * The step's environment as it enters the digest. Undeclared proxy build args (HTTP_PROXY, …) are
 * left out: they reach the container through the build (OpEnv.proxyEnv) but, as in BuildKit,
 * never bust the cache.
 */
function runEnv(state: StageState): string[] {
  const declaredOrEnv = (k: string): boolean => state.scope.hasArg(k) || (state.image.config.Env ?? []).some((e) => e.startsWith(`${k}=`));
  return state.scope.runEnv().filter((e) => {
    const k = e.slice(0, e.indexOf('='));
    return !PROXY_ARGS.includes(k) || declaredOrEnv(k);
  });
}

/** BuildKit's history text for RUN: `|N K=V … <args>` when build args are in scope. */
function runCreatedBy(state: StageState, args: string[]): string {
  // every declared ARG, valued or not; an ENV of the same name shows its value instead
  const pairs = state.scope.declaredArgs().map(([k, v]) => `${k}=${state.scope.lookup(k) ?? v ?? ''}`);
  const prefix = pairs.length ? [`|${pairs.length}`, ...pairs] : [];
  return `RUN ${[...prefix, ...args].join(' ')} # buildkit`;
}

export async function convertRun(ctx: ConvertContext, state: StageState, ins: RunInstruction): Promise<void> {
  const { args, inline } = runArgs(state, ins);
  const inputs: Digest[] = [state.vertex];
  const pending: Array<Promise<void>> = [];
  let sshCount = 0;
  const mounts = ins.mounts.map((raw) => {
    const spec = parseMount(raw, (value) => state.scope.expand(value));
    return execMount(ctx, state, spec, inputs, pending, spec.type === 'ssh' ? sshCount++ : 0);
  });
  // As BuildKit: the first agent socket is where SSH_AUTH_SOCK points, unless the step set it.
  const firstSsh = mounts.find((m) => m.type === 'ssh');
  await Promise.all(pending);
  // As BuildKit: a step may leave the sandbox for the host's network only when the build was granted
  // network.host (`--allow network.host`, or `--network host`, which asks for it).
  if (ins.network === 'host' && !ctx.opts.allow?.includes('network.host')) throw withRange(entitlementDenied('network.host', 'build'), ins.range, ctx.opts.file);
  const network = ins.network && ins.network !== 'default' ? ins.network : ctx.opts.network;
  const op: ExecOp = {
    type: 'exec',
    args,
    env: firstSsh && !runEnv(state).some((e) => e.startsWith('SSH_AUTH_SOCK=')) ? [...runEnv(state), `SSH_AUTH_SOCK=${firstSsh.target}`] : runEnv(state),
    cwd: workdirOf(state),
    user: state.image.config.User ?? '',
    network,
    ...(ctx.opts.extraHosts?.length ? { extraHosts: [...ctx.opts.extraHosts] } : {}),
    mounts,
    inline,
  };
  // what runs is the stage's base image's binaries: another CPU's need an emulator (checked when it
  // runs). 386 on amd64 too: whether this kernel runs them itself is learnt at run time, and the
  // step's cache key must not depend on when that was.
  const binaries = { os: state.image.os, architecture: state.image.architecture, ...(state.image.variant ? { variant: state.image.variant } : {}) };
  if (!runsNatively(binaries) || binaries.architecture === '386') op.platform = formatPlatform(binaries);
  if (ins.security === 'insecure') {
    if (!ctx.opts.allow?.includes('security.insecure')) throw withRange(entitlementDenied('security.insecure', 'build'), ins.range, ctx.opts.file);
    op.security = 'insecure';
  }
  const parent = state.vertex;
  state.vertex = ctx.graph.add(op, inputs, {
    name: ctx.stepName(state, ins.original),
    range: ins.range,
    stages: [state.displayName, String(state.index)],
    command: args.join(' '),
  });
  state.history.push({ created_by: runCreatedBy(state, args), layer: { vertex: state.vertex, parent } });
}

import type { Instruction, CommandForm } from '../../parser/types.js';
import { constants as osConstants } from 'node:os';
import { TbuildError } from '../../errors.js';
import type { ConvertContext } from './context.js';
import { shellOf, type StageState } from './state.js';

/** `["a" "b"]`: how BuildKit prints argument lists in history (Go's %q of a slice). */
export function goQuoteList(args: string[]): string {
  return `[${args.map((a) => JSON.stringify(a)).join(' ')}]`;
}

export function commandArgs(state: StageState, form: CommandForm): string[] {
  return form.type === 'exec' ? [...form.args] : [...shellOf(state), form.command];
}

function setEnv(state: StageState, key: string, value: string): void {
  const env = (state.image.config.Env ??= []);
  const i = env.findIndex((e) => e.slice(0, e.indexOf('=') === -1 ? e.length : e.indexOf('=')) === key);
  const entry = `${key}=${value}`;
  if (i >= 0) env[i] = entry;
  else env.push(entry);
  state.scope.setEnv(key, value);
}

function history(state: StageState, createdBy: string): void {
  state.history.push({ created_by: createdBy, empty_layer: true });
}

/** Parse one EXPOSE word (already expanded): `80`, `80/udp`, `8000-8002/tcp`. */
export function exposePorts(word: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(word);
  if (!m) throw new TbuildError('TB_BAD_PORT', `invalid containerPort: ${word}`);
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  const proto = (m[3] ?? 'tcp').toLowerCase();
  if (start < 0 || end > 65535 || end < start) throw new TbuildError('TB_BAD_PORT', `invalid port range: ${word}`);
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  return out;
}

/** STOPSIGNAL takes a number or a signal name with or without `SIG` (Docker's signal.ParseSignal). */
function checkSignal(sig: string): void {
  if (/^\d+$/.test(sig) && Number(sig) > 0 && Number(sig) <= 64) return;
  const name = sig.toUpperCase().startsWith('SIG') ? sig.toUpperCase() : `SIG${sig.toUpperCase()}`;
  if (name in osConstants.signals || /^SIGRTM(IN|AX)([+-]\d+)?$/.test(name)) return;
  throw new TbuildError('TB_PARSE_BAD_ARGS', `invalid signal: ${sig}`);
}

/** Config-only instructions: they change the image config and add an empty history entry. */
export function applyMetadata(ctx: ConvertContext, state: StageState, ins: Instruction): void {
  const cfg = state.image.config;
  const scope = state.scope;
  switch (ins.kind) {
    case 'ENV': {
      // all pairs of one instruction see the environment from before it
      const pairs = ins.pairs.map((p) => [scope.expand(p.key), scope.expand(p.value)] as const);
      for (const [k, v] of pairs) setEnv(state, k, v);
      history(state, `ENV ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`);
      return;
    }
    case 'ARG': {
      const parts: string[] = [];
      for (const decl of ins.args) {
        scope.declareArg(decl);
        const v = scope.declaredArgs().find(([k]) => k === decl.key)?.[1];
        parts.push(v === undefined ? decl.key : `${decl.key}=${v}`);
      }
      history(state, `ARG ${parts.join(' ')}`);
      return;
    }
    case 'LABEL': {
      const pairs = ins.pairs.map((p) => [scope.expand(p.key), scope.expand(p.value)] as const);
      const labels = (cfg.Labels ??= {});
      for (const [k, v] of pairs) labels[k] = v;
      history(state, `LABEL ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`);
      return;
    }
    case 'EXPOSE': {
      const ports = (cfg.ExposedPorts ??= {});
      const added: string[] = [];
      for (const raw of ins.ports) {
        for (const word of scope.expandList(raw)) {
          for (const p of exposePorts(word)) {
            ports[p] = {};
            added.push(p);
          }
        }
      }
      // BuildKit prints the instruction's port set as a Go map: `EXPOSE map[80/tcp:{} 53/udp:{}]`
      history(state, `EXPOSE map[${[...new Set(added)].sort().map((p) => `${p}:{}`).join(' ')}]`);
      return;
    }
    case 'VOLUME': {
      const vols = (cfg.Volumes ??= {});
      const added: string[] = [];
      for (const raw of ins.paths) {
        const words = ins.json ? [scope.expand(raw)] : scope.expandList(raw);
        for (const w of words) {
          if (!w) throw new TbuildError('TB_PARSE_BAD_ARGS', 'VOLUME specified can not be an empty string');
          vols[w] = {};
          added.push(w);
        }
      }
      history(state, `VOLUME [${added.join(' ')}]`);
      return;
    }
    case 'USER': {
      cfg.User = scope.expand(ins.user);
      history(state, `USER ${cfg.User}`);
      return;
    }
    case 'STOPSIGNAL': {
      cfg.StopSignal = scope.expand(ins.signal);
      checkSignal(cfg.StopSignal);
      history(state, `STOPSIGNAL ${cfg.StopSignal}`);
      return;
    }
    case 'HEALTHCHECK': {
      const c = ins.check;
      if (c.type === 'NONE') {
        cfg.Healthcheck = { Test: ['NONE'] };
      } else {
        const test = c.command.type === 'exec' ? ['CMD', ...c.command.args] : ['CMD-SHELL', c.command.command];
        const hc: NonNullable<typeof cfg.Healthcheck> = { Test: test };
        if (c.interval) hc.Interval = c.interval;
        if (c.timeout) hc.Timeout = c.timeout;
        if (c.startPeriod) hc.StartPeriod = c.startPeriod;
        if (c.startInterval) hc.StartInterval = c.startInterval;
        if (c.retries) hc.Retries = c.retries;
        cfg.Healthcheck = hc;
      }
      history(state, `HEALTHCHECK ${goQuoteList(cfg.Healthcheck.Test ?? [])}`);
      return;
    }
    case 'CMD': {
      cfg.Cmd = commandArgs(state, ins.command);
      state.cmdSet = true;
      history(state, `CMD ${goQuoteList(cfg.Cmd)}`);
      return;
    }
    case 'ENTRYPOINT': {
      cfg.Entrypoint = commandArgs(state, ins.command);
      // an inherited CMD makes no sense with a new ENTRYPOINT; one set in this stage stays
      if (!state.cmdSet) cfg.Cmd = null;
      history(state, `ENTRYPOINT ${goQuoteList(cfg.Entrypoint)}`);
      return;
    }
    case 'SHELL': {
      cfg.Shell = [...ins.shell];
      history(state, `SHELL [${cfg.Shell.join(' ')}]`);
      return;
    }
    case 'ONBUILD': {
      // stored for images built FROM this one; BuildKit adds no history entry for it
      (cfg.OnBuild ??= []).push(ins.expression);
      return;
    }
    case 'MAINTAINER': {
      state.image.author = ins.name;
      history(state, `MAINTAINER ${ins.name}`);
      return;
    }
    default:
      throw new TbuildError('TB_INTERNAL', `no converter for ${ins.kind}`);
  }
}

import { posix } from 'node:path';
import type { ContainerConfig } from './types.js';
import { TbuildError } from '../errors.js';

/**
 * `--change` lines of `import` (and `commit`): a Dockerfile instruction each, applied to a
 * container config. Docker's list: CMD ENTRYPOINT ENV EXPOSE LABEL ONBUILD STOPSIGNAL USER VOLUME WORKDIR.
 */

function bad(message: string): TbuildError {
  return new TbuildError('TB_INVALID_ARGUMENT', message);
}

/** Split like a POSIX shell word list (quotes and backslashes; no expansion). */
export function shellWords(s: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end === -1) throw bad(`unterminated quote in ${JSON.stringify(s)}`);
      cur += s.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      i++;
      for (; i < s.length && s[i] !== '"'; i++) {
        if (s[i] === '\\' && i + 1 < s.length && '"\\$`'.includes(s[i + 1]!)) i++;
        cur += s[i]!;
      }
      if (i >= s.length) throw bad(`unterminated quote in ${JSON.stringify(s)}`);
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i]!;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/** JSON array of strings, or undefined when `rest` is not one (then it is shell form). */
function jsonArray(rest: string): string[] | undefined {
  if (!rest.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(rest);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    // not JSON: Docker treats it as shell form too
  }
  return undefined;
}

function keyValues(rest: string, what: string): Array<[string, string]> {
  const words = shellWords(rest);
  if (words.length === 0) throw bad(`${what} requires at least one argument`);
  if (!words[0]!.includes('=')) {
    // legacy `ENV key value with spaces`
    const m = /^(\S+)\s+(.*)$/s.exec(rest.trim());
    if (!m) throw bad(`${what} must have two arguments`);
    return [[m[1]!, shellWords(m[2]!).join(' ')]];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq <= 0) throw bad(`${what} names can not be blank`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}

/** Apply one change line to `config` (mutated and returned). */
export function applyChange(config: ContainerConfig, line: string): ContainerConfig {
  const m = /^\s*(\S+)\s*(.*?)\s*$/s.exec(line);
  if (!m) return config;
  const instr = m[1]!.toUpperCase();
  const rest = m[2]!;
  const shellForm = (): string[] => [...(config.Shell ?? ['/bin/sh', '-c']), rest];
  switch (instr) {
    case 'CMD':
      config.Cmd = jsonArray(rest) ?? shellForm();
      break;
    case 'ENTRYPOINT':
      config.Entrypoint = jsonArray(rest) ?? (rest === '' ? null : shellForm());
      break;
    case 'ENV': {
      const env = [...(config.Env ?? [])];
      for (const [k, v] of keyValues(rest, 'ENV')) {
        const i = env.findIndex((e) => e.split('=', 1)[0] === k);
        if (i === -1) env.push(`${k}=${v}`);
        else env[i] = `${k}=${v}`;
      }
      config.Env = env;
      break;
    }
    case 'LABEL': {
      const labels = { ...(config.Labels ?? {}) };
      for (const [k, v] of keyValues(rest, 'LABEL')) labels[k] = v;
      config.Labels = labels;
      break;
    }
    case 'EXPOSE': {
      const ports = { ...(config.ExposedPorts ?? {}) };
      for (const p of shellWords(rest)) {
        const pm = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
        if (!pm) throw new TbuildError('TB_BAD_PORT', `invalid containerPort: ${p}`);
        const lo = Number(pm[1]);
        const hi = pm[2] ? Number(pm[2]) : lo;
        if (lo > 65535 || hi > 65535 || hi < lo) throw new TbuildError('TB_BAD_PORT', `invalid containerPort: ${p}`);
        for (let port = lo; port <= hi; port++) ports[`${port}/${(pm[3] ?? 'tcp').toLowerCase()}`] = {};
      }
      config.ExposedPorts = ports;
      break;
    }
    case 'USER':
      if (rest === '') throw bad('USER requires exactly one argument');
      config.User = rest;
      break;
    case 'VOLUME': {
      const vols = { ...(config.Volumes ?? {}) };
      for (const v of jsonArray(rest) ?? shellWords(rest)) {
        if (v.trim() === '') throw bad('VOLUME specified can not be an empty string');
        vols[v] = {};
      }
      config.Volumes = vols;
      break;
    }
    case 'WORKDIR': {
      if (rest === '') throw bad('WORKDIR requires exactly one argument');
      const w = shellWords(rest).join(' ');
      config.WorkingDir = posix.resolve('/', config.WorkingDir ?? '/', w);
      break;
    }
    case 'STOPSIGNAL':
      if (!/^(SIG)?[A-Z0-9+-]+$/i.test(rest)) throw bad(`Invalid signal: ${rest}`);
      config.StopSignal = rest;
      break;
    case 'ONBUILD':
      config.OnBuild = [...(config.OnBuild ?? []), rest];
      break;
    default:
      throw bad(`${m[1]} is not a valid change command`);
  }
  return config;
}

/**
 * Executes a parsed template against plain data the way Go's text/template does: Go's truth
 * rules, `fmt` printing of maps and slices, pipelines passing the previous value as the last
 * argument, and the functions the Docker CLI adds (`json`, `join`, `split`, `upper`, `lower`,
 * `title`, `pad`, `truncate`). A function-valued property acts as a method (`.Label "k"`).
 */
import { TbuildError } from '../../errors.js';
import type { Command, Node, Operand, Pipeline } from './parse.js';
import { goPrint, truthy } from './print.js';
import { sprintf } from './printf.js';

type Fn = (...args: unknown[]) => unknown;

class LoopSignal {
  constructor(readonly kind: 'break' | 'continue') {}
}

function execError(msg: string): TbuildError {
  return new TbuildError('TB_FORMAT_TEMPLATE', `template: ${msg}`);
}

function length(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (Array.isArray(v)) return v.length;
  if (v && typeof v === 'object') return Object.keys(v).length;
  throw execError(`len of ${goPrint(v)}`);
}

function index(v: unknown, ...keys: unknown[]): unknown {
  let cur = v;
  for (const k of keys) {
    if (Array.isArray(cur) || typeof cur === 'string') {
      const i = Number(k);
      if (!Number.isInteger(i) || i < 0 || i >= cur.length) throw execError(`index out of range: ${goPrint(k)}`);
      cur = cur[i];
    } else if (cur && typeof cur === 'object') {
      cur = (cur as Record<string, unknown>)[String(k)];
    } else {
      throw execError(`can't index item of type ${cur === null ? 'nil' : typeof cur}`);
    }
  }
  return cur;
}

function compare(op: string, a: unknown, b: unknown): boolean {
  if (op === 'eq') return a === b || (a == null && b == null);
  if (typeof a !== typeof b || (typeof a !== 'number' && typeof a !== 'string')) {
    throw execError(`incompatible types for comparison: ${goPrint(a)} ${op} ${goPrint(b)}`);
  }
  const x = a as number | string;
  const y = b as number | string;
  return op === 'lt' ? x < y : op === 'le' ? x <= y : op === 'gt' ? x > y : x >= y;
}

const FUNCS: Record<string, Fn> = {
  // Go's builtins
  and: (...a) => a.find((v) => !truthy(v)) ?? a[a.length - 1],
  or: (...a) => a.find((v) => truthy(v)) ?? a[a.length - 1],
  not: (v) => !truthy(v),
  len: (v) => length(v),
  index: (v, ...k) => index(v, ...k),
  slice: (v, from, to) => {
    if (typeof v !== 'string' && !Array.isArray(v)) throw execError(`can't slice ${goPrint(v)}`);
    return v.slice(Number(from ?? 0), to === undefined ? undefined : Number(to));
  },
  print: (...a) => a.map((v, i) => (i > 0 && typeof v !== 'string' && typeof a[i - 1] !== 'string' ? ' ' : '') + goPrint(v)).join(''),
  println: (...a) => `${a.map(goPrint).join(' ')}\n`,
  printf: (f, ...a) => sprintf(String(f), a),
  eq: (a, ...b) => b.some((x) => compare('eq', a, x)),
  ne: (a, b) => !compare('eq', a, b),
  lt: (a, b) => compare('lt', a, b),
  le: (a, b) => compare('le', a, b),
  gt: (a, b) => compare('gt', a, b),
  ge: (a, b) => compare('ge', a, b),
  html: (...a) => a.map(goPrint).join('').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`),
  js: (...a) => a.map(goPrint).join('').replace(/[\\'"<>&=]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}`),
  urlquery: (...a) => encodeURIComponent(a.map(goPrint).join('')),
  call: (fn, ...a) => {
    if (typeof fn !== 'function') throw execError(`call of non-function ${goPrint(fn)}`);
    return (fn as Fn)(...a);
  },
  // The Docker CLI's additions
  json: (v) => JSON.stringify(v ?? null),
  join: (list, sep) => (Array.isArray(list) ? list.map(goPrint).join(String(sep)) : goPrint(list)),
  split: (s, sep) => String(s).split(String(sep)),
  upper: (s) => String(s).toUpperCase(),
  lower: (s) => String(s).toLowerCase(),
  title: (s) => String(s).replace(/(^|[^\p{L}\p{N}])(\p{L})/gu, (_m, a: string, b: string) => a + b.toUpperCase()),
  pad: (s, left, right) => ' '.repeat(Number(left)) + goPrint(s) + ' '.repeat(Number(right)),
  truncate: (s, n) => [...String(s)].slice(0, Number(n)).join(''),
};

type Vars = Array<[string, unknown]>;

class Executor {
  private out = '';
  constructor(
    private readonly root: unknown,
    private readonly funcs: Record<string, Fn>,
  ) {}

  run(nodes: Node[], dot: unknown, vars: Vars): string {
    this.walk(nodes, dot, vars);
    return this.out;
  }

  private walk(nodes: Node[], dot: unknown, vars: Vars): void {
    const depth = vars.length;
    for (const node of nodes) {
      switch (node.kind) {
        case 'text':
          this.out += node.text;
          break;
        case 'action': {
          const v = this.pipe(node.pipe, dot, vars);
          if (node.pipe.decl.length === 0) this.out += goPrint(v);
          break;
        }
        case 'if':
        case 'with': {
          const inner: Vars = [...vars];
          const v = this.pipe(node.pipe, dot, inner);
          if (truthy(v)) this.walk(node.then, node.kind === 'with' ? v : dot, inner);
          else this.walk(node.else, dot, inner);
          break;
        }
        case 'range':
          this.range(node, dot, vars);
          break;
        case 'break':
        case 'continue':
          throw new LoopSignal(node.kind);
      }
    }
    vars.length = depth;
  }

  private range(node: Extract<Node, { kind: 'range' }>, dot: unknown, vars: Vars): void {
    const pipe: Pipeline = { ...node.pipe, decl: [] };
    const v = this.pipe(pipe, dot, vars);
    let entries: Array<[unknown, unknown]>;
    if (Array.isArray(v)) entries = v.map((x, i) => [i, x]);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      entries = Object.keys(o)
        .sort()
        .map((k) => [k, o[k]]);
    } else if (typeof v === 'number' && Number.isInteger(v)) entries = Array.from({ length: Math.max(0, v) }, (_, i) => [i, i]);
    else if (v === null || v === undefined) entries = [];
    else throw execError(`range can't iterate over ${goPrint(v)}`);
    if (entries.length === 0) {
      this.walk(node.else, dot, [...vars]);
      return;
    }
    const [first, second] = node.pipe.decl;
    for (const [k, item] of entries) {
      const inner: Vars = [...vars];
      if (second !== undefined) inner.push([first!, k], [second, item]);
      else if (first !== undefined) inner.push([first, item]);
      try {
        this.walk(node.then, item, inner);
      } catch (e) {
        if (!(e instanceof LoopSignal)) throw e;
        if (e.kind === 'break') break;
      }
    }
  }

  private pipe(p: Pipeline, dot: unknown, vars: Vars): unknown {
    let value: unknown;
    let first = true;
    for (const cmd of p.commands) {
      value = this.command(cmd, dot, vars, first ? [] : [value]);
      first = false;
    }
    if (p.decl.length) {
      const name = p.decl[p.decl.length - 1]!;
      if (p.assign) {
        const slot = [...vars].reverse().find(([n]) => n === name);
        if (!slot) throw execError(`undefined variable: ${name}`);
        slot[1] = value;
      } else vars.push([name, value]);
    }
    return value;
  }

  private command(cmd: Command, dot: unknown, vars: Vars, piped: unknown[]): unknown {
    const [head, ...rest] = cmd;
    if (head!.kind === 'func') {
      const fn = this.funcs[head!.name];
      if (!fn) throw execError(`function "${head!.name}" not defined`);
      return fn(...rest.map((o) => this.operand(o, dot, vars, [])), ...piped);
    }
    const args = rest.map((o) => this.operand(o, dot, vars, []));
    if (args.length && head!.kind !== 'field' && head!.kind !== 'var') {
      throw execError(`can't give argument to non-function ${describe(head!)}`);
    }
    return this.operand(head!, dot, vars, [...args, ...piped]);
  }

  private operand(o: Operand, dot: unknown, vars: Vars, args: unknown[]): unknown {
    switch (o.kind) {
      case 'dot':
        return dot;
      case 'string':
      case 'number':
      case 'bool':
      case 'nil':
        return o.value;
      case 'func': {
        const fn = this.funcs[o.name];
        if (!fn) throw execError(`function "${o.name}" not defined`);
        return fn(...args);
      }
      case 'var': {
        const slot = o.name === '$' ? ['$', this.root] : [...vars].reverse().find(([n]) => n === o.name);
        if (!slot) throw execError(`undefined variable: ${o.name}`);
        return this.fields(slot[1], o.path, args);
      }
      case 'field':
        return this.fields(dot, o.path, args);
      case 'pipe':
        return this.fields(this.pipe(o.pipe, dot, [...vars]), o.path, args);
    }
  }

  private fields(base: unknown, path: string[], args: unknown[]): unknown {
    if (path.length === 0 && args.length) throw execError(`can't give argument to non-function ${goPrint(base)}`);
    let v = base;
    path.forEach((key, i) => {
      if (v === null || v === undefined) {
        throw execError(`nil pointer evaluating .${path.slice(0, i + 1).join('.')}`);
      }
      if (typeof v !== 'object') throw execError(`can't evaluate field ${key} in type ${typeof v}`);
      const next = (v as Record<string, unknown>)[key];
      const last = i === path.length - 1;
      v = typeof next === 'function' ? (next as Fn).call(v, ...(last ? args : [])) : next;
      if (last && args.length && typeof next !== 'function') throw execError(`${key} has arguments but cannot be invoked`);
    });
    return v;
  }
}

function describe(o: Operand): string {
  if (o.kind === 'string') return JSON.stringify(o.value);
  if (o.kind === 'dot') return '.';
  return String((o as { value?: unknown }).value ?? o.kind);
}

/** Docker renders a table's header row with these in place of the formatting functions. */
const HEADER_FUNCS: Record<string, Fn> = {
  ...FUNCS,
  json: () => '',
  ...Object.fromEntries(['split', 'join', 'title', 'lower', 'upper', 'truncate', 'pad'].map((n) => [n, (v: unknown) => v])),
};

export function execute(nodes: Node[], data: unknown, mode: 'row' | 'header' = 'row'): string {
  return new Executor(data, mode === 'header' ? HEADER_FUNCS : FUNCS).run(nodes, data, []);
}

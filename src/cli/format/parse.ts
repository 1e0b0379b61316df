/**
 * A parser for the part of Go's text/template that `--format` strings use: actions with
 * pipelines, fields, variables, literals, parentheses, `if`/`else if`/`range`/`with`/`end`,
 * trim markers and comments. `define`, `template` and `block` are refused by name: a Docker
 * format string never needs them, and printing them back as text would hide the mistake.
 */
import { TbuildError } from '../../errors.js';

export type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Pipeline }
  | { kind: 'if' | 'with'; pipe: Pipeline; then: Node[]; else: Node[] }
  | { kind: 'range'; pipe: Pipeline; then: Node[]; else: Node[] }
  | { kind: 'break' | 'continue' };

export interface Pipeline {
  /** `$x := …` or `$i, $v := …` (range); `assign` is `=` on an existing variable. */
  decl: string[];
  assign: boolean;
  commands: Command[];
}

export type Command = Operand[];

export type Operand =
  | { kind: 'field'; base: Operand | null; path: string[] }
  | { kind: 'var'; name: string; path: string[] }
  | { kind: 'dot' }
  | { kind: 'func'; name: string }
  | { kind: 'string' | 'number' | 'bool' | 'nil'; value: unknown }
  | { kind: 'pipe'; pipe: Pipeline; path: string[] };

function templateError(msg: string): TbuildError {
  return new TbuildError('TB_FORMAT_TEMPLATE', `template: ${msg}`);
}

/** Splits the template into text and the source of each action, applying trim markers. */
function split(src: string): Array<{ text: string } | { action: string; at: number }> {
  const parts: Array<{ text: string } | { action: string; at: number }> = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      parts.push({ text: src.slice(i) });
      break;
    }
    let text = src.slice(i, open);
    let start = open + 2;
    if (/^-[ \t\r\n]/.test(src.slice(start, start + 2))) {
      text = text.replace(/[ \t\r\n]+$/, '');
      start += 1;
    }
    parts.push({ text });
    const close = findClose(src, start);
    if (close < 0) throw templateError(`unclosed action at offset ${open}`);
    let end = close;
    let next = close + 2;
    if (/[ \t\r\n]-$/.test(src.slice(close - 2, close))) end = close - 1;
    const action = src.slice(start, end).trim();
    if (end !== close) {
      const rest = src.slice(next);
      next += rest.length - rest.replace(/^[ \t\r\n]+/, '').length;
    }
    if (!action.startsWith('/*')) parts.push({ action, at: open });
    else if (!action.endsWith('*/')) throw templateError(`unclosed comment at offset ${open}`);
    i = next;
  }
  return parts;
}

/** The `}}` that ends an action, skipping over quoted strings that may contain it. */
function findClose(src: string, from: number): number {
  for (let i = from; i < src.length; i++) {
    const c = src[i];
    if (c === '"' || c === '`' || c === "'") {
      const q = c;
      for (i++; i < src.length && src[i] !== q; i++) if (src[i] === '\\' && q !== '`') i++;
      continue;
    }
    if (c === '}' && src[i + 1] === '}') return i;
  }
  return -1;
}

type Token = { t: 'word' | 'field' | 'var' | 'string' | 'number' | 'punct'; v: string };

function lex(action: string): Token[] {
  const tokens: Token[] = [];
  const re =
    /\s*(?:("(?:[^"\\]|\\.)*")|(`[^`]*`)|('(?:[^'\\]|\\.)')|(:=|[|(),=])|(\$[\w]*(?:\.[\w]+)*)|((?:\.[\w]+)+|\.)|([-+]?(?:0x[\da-fA-F]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?))|([A-Za-z_]\w*))/y;
  let pos = 0;
  while (pos < action.length) {
    if (/^\s*$/.test(action.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(action);
    if (!m) throw templateError(`unexpected ${JSON.stringify(action.slice(pos).trim()[0])} in {{${action}}}`);
    pos = re.lastIndex;
    if (m[1]) tokens.push({ t: 'string', v: JSON.parse(m[1]) as string });
    else if (m[2]) tokens.push({ t: 'string', v: m[2].slice(1, -1) });
    else if (m[3]) tokens.push({ t: 'number', v: String((JSON.parse(`"${m[3].slice(1, -1)}"`) as string).codePointAt(0)) });
    else if (m[4]) tokens.push({ t: 'punct', v: m[4] });
    else if (m[5]) tokens.push({ t: 'var', v: m[5] });
    else if (m[6]) tokens.push({ t: 'field', v: m[6] });
    else if (m[7]) tokens.push({ t: 'number', v: m[7] });
    else if (m[8]) tokens.push({ t: 'word', v: m[8] });
    // A field chain straight after `)` or a variable, as in `(index . 0).Name`, continues it.
  }
  return tokens;
}

class ActionParser {
  private i = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly source: string,
  ) {}

  done(): boolean {
    return this.i >= this.tokens.length;
  }

  pipeline(stopAt?: string): Pipeline {
    const decl: string[] = [];
    let assign = false;
    const save = this.i;
    while (this.tokens[this.i]?.t === 'var') {
      decl.push(this.tokens[this.i]!.v);
      this.i++;
      const p = this.tokens[this.i];
      if (p?.t === 'punct' && p.v === ',') {
        this.i++;
        continue;
      }
      if (p?.t === 'punct' && (p.v === ':=' || p.v === '=')) {
        assign = p.v === '=';
        this.i++;
        break;
      }
      decl.length = 0;
      this.i = save;
      break;
    }
    const commands: Command[] = [];
    for (;;) {
      const cmd: Command = [];
      while (!this.done()) {
        const tok = this.tokens[this.i]!;
        if (tok.t === 'punct' && (tok.v === '|' || tok.v === stopAt)) break;
        cmd.push(this.operand());
      }
      if (cmd.length === 0) throw templateError(`missing value in {{${this.source}}}`);
      commands.push(cmd);
      const tok = this.tokens[this.i];
      if (tok?.t === 'punct' && tok.v === '|') {
        this.i++;
        continue;
      }
      break;
    }
    return { decl, assign, commands };
  }

  private operand(): Operand {
    const tok = this.tokens[this.i++]!;
    switch (tok.t) {
      case 'field':
        return tok.v === '.' ? { kind: 'dot' } : { kind: 'field', base: null, path: tok.v.slice(1).split('.') };
      case 'var': {
        const [name, ...path] = tok.v.split('.');
        return { kind: 'var', name: name!, path };
      }
      case 'string':
        return { kind: 'string', value: tok.v };
      case 'number':
        return { kind: 'number', value: Number(tok.v) };
      case 'word':
        if (tok.v === 'true' || tok.v === 'false') return { kind: 'bool', value: tok.v === 'true' };
        if (tok.v === 'nil') return { kind: 'nil', value: null };
        return { kind: 'func', name: tok.v };
      case 'punct':
        if (tok.v === '(') {
          const pipe = this.pipeline(')');
          const close = this.tokens[this.i++];
          if (close?.v !== ')') throw templateError(`unclosed "(" in {{${this.source}}}`);
          const next = this.tokens[this.i];
          let path: string[] = [];
          if (next?.t === 'field' && next.v !== '.') {
            path = next.v.slice(1).split('.');
            this.i++;
          }
          return { kind: 'pipe', pipe, path };
        }
    }
    throw templateError(`unexpected "${tok.v}" in {{${this.source}}}`);
  }
}

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'break', 'continue', 'define', 'template', 'block']);

function parseAction(action: string): { keyword?: string; pipe?: Pipeline; elseKeyword?: string } {
  const tokens = lex(action);
  const first = tokens[0];
  if (!first) throw templateError('missing value for command in {{}}');
  let keyword: string | undefined;
  let elseKeyword: string | undefined;
  let rest = tokens;
  if (first.t === 'word' && KEYWORDS.has(first.v)) {
    keyword = first.v;
    rest = tokens.slice(1);
    if (keyword === 'else' && rest[0]?.t === 'word' && ['if', 'with'].includes(rest[0].v)) {
      elseKeyword = rest[0].v;
      rest = rest.slice(1);
    }
  }
  if (keyword === 'define' || keyword === 'template' || keyword === 'block') {
    throw templateError(`{{${keyword}}} is not supported in tbuild format strings`);
  }
  if (keyword === 'end' || keyword === 'break' || keyword === 'continue' || (keyword === 'else' && !elseKeyword)) {
    if (rest.length) throw templateError(`unexpected text after {{${keyword}}}`);
    return { keyword };
  }
  const p = new ActionParser(rest, action);
  const pipe = p.pipeline();
  if (!p.done()) throw templateError(`unexpected ")" in {{${action}}}`);
  return { keyword, pipe, elseKeyword };
}

/** Parses a whole template into its node tree. */
export function parseTemplate(src: string): Node[] {
  const parts = split(src);
  let at = 0;
  let loops = 0;
  const list = (closers: Set<string>): { nodes: Node[]; end: string; elseBlock?: Node } => {
    const nodes: Node[] = [];
    while (at < parts.length) {
      const part = parts[at++]!;
      if ('text' in part) {
        if (part.text) nodes.push({ kind: 'text', text: part.text });
        continue;
      }
      const a = parseAction(part.action);
      if (!a.keyword) {
        nodes.push({ kind: 'action', pipe: a.pipe! });
        continue;
      }
      if (a.keyword === 'end' || a.keyword === 'else') {
        if (!closers.has(a.keyword)) throw templateError(`unexpected {{${part.action}}}`);
        if (a.elseKeyword) {
          // `{{else if x}}` is `{{else}}{{if x}}…{{end}}` sharing the outer `end`.
          return { nodes, end: 'end', elseBlock: block(a.elseKeyword as 'if' | 'with', a.pipe!) };
        }
        return { nodes, end: a.keyword };
      }
      if (a.keyword === 'break' || a.keyword === 'continue') {
        if (loops === 0) throw templateError(`{{${a.keyword}}} outside {{range}}`);
        nodes.push({ kind: a.keyword });
        continue;
      }
      nodes.push(block(a.keyword as 'if' | 'with' | 'range', a.pipe!));
    }
    if (closers.size) throw templateError('unexpected EOF: an {{end}} is missing');
    return { nodes, end: '' };
  };
  const block = (kind: 'if' | 'with' | 'range', pipe: Pipeline): Node => {
    if (kind === 'range') loops++;
    const body = list(new Set(['end', 'else']));
    if (kind === 'range') loops--;
    let otherwise: Node[] = body.elseBlock ? [body.elseBlock] : [];
    if (body.end === 'else') otherwise = list(new Set(['end'])).nodes;
    return { kind, pipe, then: body.nodes, else: otherwise };
  };
  return list(new Set()).nodes;
}

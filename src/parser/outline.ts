import type { ArgInstruction, Instruction, ResolvedDockerfile, SourceRange } from './types.js';
import { parseMount } from './mount.js';
import { isTbuildError } from '../errors.js';

/** One ARG as `tbuild outline` shows it. */
export interface OutlineArg {
  name: string;
  /** Default as written (raw), if any. */
  default?: string;
  /** Value after build args (globals only: stage ARG values depend on the stage's ENV at build time). */
  value?: string;
  /** From a `# NAME description` comment above the ARG (BuildKit's doc comments). */
  description?: string;
  line: number;
  /** Lines that reference the variable (`$NAME` / `${NAME…}`) after the declaration. */
  usedAt: number[];
}

export interface OutlineStage {
  index: number;
  name?: string;
  base: string;
  platform?: string;
  line: number;
  /** From a `# NAME description` comment above the FROM line. */
  description?: string;
  needed: boolean;
  dependsOn: number[];
  args: OutlineArg[];
}

/** A secret or SSH agent a needed RUN mounts. */
export interface OutlineMount {
  id: string;
  required: boolean;
  /** Lines of the RUN instructions that mount it. */
  lines: number[];
}

export interface Outline {
  target: { index: number; name?: string };
  globalArgs: OutlineArg[];
  stages: OutlineStage[];
  secrets: OutlineMount[];
  ssh: OutlineMount[];
}

/** Secrets and SSH mounts of the stages the target needs (mounts written with variables are skipped). */
function mountsOf(r: ResolvedDockerfile): { secrets: OutlineMount[]; ssh: OutlineMount[] } {
  const found = { secret: new Map<string, OutlineMount>(), ssh: new Map<string, OutlineMount>() };
  for (const i of r.needed) {
    for (const ins of r.dockerfile.stages[i]!.instructions) {
      if (ins.kind !== 'RUN') continue;
      for (const raw of ins.mounts) {
        if (raw.includes('$')) continue;
        let m;
        try {
          m = parseMount(raw);
        } catch (err) {
          if (isTbuildError(err)) continue;
          throw err;
        }
        if ((m.type !== 'secret' && m.type !== 'ssh') || m.id === undefined) continue;
        const table = found[m.type];
        const entry = table.get(m.id) ?? { id: m.id, required: false, lines: [] };
        entry.required ||= m.required === true;
        if (!entry.lines.includes(ins.range.startLine)) entry.lines.push(ins.range.startLine);
        table.set(m.id, entry);
      }
    }
  }
  return { secrets: [...found.secret.values()], ssh: [...found.ssh.values()] };
}

const refersTo = (text: string, name: string): boolean => {
  const esc = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`\\$(?:\\{)?${esc}(?![A-Za-z0-9_])`).test(text);
};

/** All text an instruction's expansion may read: the line, and heredoc bodies that expand. */
function texts(ins: Instruction): Array<[string, SourceRange]> {
  const out: Array<[string, SourceRange]> = [[ins.original, ins.range]];
  if (ins.kind === 'RUN' || ins.kind === 'COPY' || ins.kind === 'ADD') {
    for (const h of ins.heredocs) if (h.expand) out.push([h.content, ins.range]);
  }
  return out;
}

function usedAt(name: string, instructions: Instruction[]): number[] {
  const lines = new Set<number>();
  for (const ins of instructions) {
    for (const [text, range] of texts(ins)) if (refersTo(text, name)) lines.add(range.startLine);
  }
  return [...lines].sort((a, b) => a - b);
}

/**
 * BuildKit's doc comments: the comment lines above an instruction (blank lines skipped, an empty
 * `#` ends the block); the one that starts with `NAME ` describes the ARG or stage NAME.
 */
function describe(source: string[], line: number, name: string): string | undefined {
  for (let i = line - 2; i >= 0; i--) {
    const text = source[i]!.trim();
    if (text === '') continue;
    if (!text.startsWith('#')) return undefined;
    const comment = text.slice(1).trim();
    if (comment === '' || /^(syntax|escape|check)\s*=/i.test(comment)) return undefined;
    if (comment.startsWith(name + ' ')) return comment.slice(name.length + 1).trim();
  }
  return undefined;
}

function args(ins: ArgInstruction[], scope: Instruction[], source: string[], values?: Map<string, string | undefined>): OutlineArg[] {
  const out: OutlineArg[] = [];
  for (const a of ins) {
    const after = scope.filter((i) => i.range.startLine > a.range.startLine);
    for (const d of a.args) {
      const arg: OutlineArg = { name: d.key, line: a.range.startLine, usedAt: usedAt(d.key, after) };
      if (d.default !== undefined) arg.default = d.default;
      const v = values?.get(d.key);
      if (v !== undefined) arg.value = v;
      const desc = describe(source, a.range.startLine, d.key);
      if (desc !== undefined) arg.description = desc;
      out.push(arg);
    }
  }
  return out;
}

/** The stages, bases and ARGs of a resolved Dockerfile, for `tbuild outline`. */
export function outline(r: ResolvedDockerfile): Outline {
  const df = r.dockerfile;
  const source = df.source.split(/\r?\n/);
  const froms = df.stages.map((s) => s.from);
  const needed = new Set(r.needed);
  const stages: OutlineStage[] = r.stages.map((rs) => {
    const s = rs.stage;
    const base = rs.base.type === 'scratch' ? 'scratch' : rs.base.type === 'image' ? rs.base.ref : `stage ${df.stages[rs.base.index]!.name ?? rs.base.index}`;
    const argIns = s.instructions.filter((i): i is ArgInstruction => i.kind === 'ARG');
    const out: OutlineStage = {
      index: s.index,
      base,
      line: s.from.range.startLine,
      needed: needed.has(s.index),
      dependsOn: rs.dependsOn,
      args: args(argIns, s.instructions, source),
    };
    if (s.name !== undefined) {
      out.name = s.name;
      const desc = describe(source, s.from.range.startLine, s.name);
      if (desc !== undefined) out.description = desc;
    }
    if (rs.platform !== undefined) out.platform = rs.platform;
    return out;
  });
  const target = df.stages[r.target]!;
  return {
    target: { index: r.target, ...(target.name !== undefined ? { name: target.name } : {}) },
    globalArgs: args(df.globalArgs, [...df.globalArgs, ...froms], source, r.globalArgs),
    stages,
    ...mountsOf(r),
  };
}

/** Plain-text rendering of an outline. */
export function formatOutline(o: Outline, file: string): string {
  const lines: string[] = [];
  const t = o.target;
  lines.push(`TARGET: ${t.name ?? `stage ${t.index}`} (${file})`, '');
  const argLine = (a: OutlineArg): string => {
    let s = `  ARG ${a.name}`;
    if (a.default !== undefined) s += `=${a.default}`;
    if (a.value !== undefined && a.value !== a.default) s += `  (value: ${a.value})`;
    s += `  line ${a.line}`;
    s += a.usedAt.length ? `, used at ${a.usedAt.join(', ')}` : ', unused';
    if (a.description) s += `  # ${a.description}`;
    return s;
  };
  if (o.globalArgs.length) {
    lines.push('GLOBAL ARGS');
    for (const a of o.globalArgs) lines.push(argLine(a));
    lines.push('');
  }
  lines.push('STAGES');
  for (const s of o.stages) {
    const name = s.name ? ` ${s.name}` : '';
    const plat = s.platform ? ` --platform=${s.platform}` : '';
    const mark = s.needed ? '' : '  (not needed for the target)';
    lines.push(`#${s.index}${name}: FROM${plat} ${s.base}  line ${s.line}${mark}${s.description ? `  # ${s.description}` : ''}`);
    if (s.dependsOn.length) lines.push(`  depends on: ${s.dependsOn.map((d) => o.stages[d]?.name ?? `#${d}`).join(', ')}`);
    for (const a of s.args) lines.push(argLine(a));
  }
  for (const [title, list] of [['SECRETS', o.secrets], ['SSH', o.ssh]] as const) {
    if (!list.length) continue;
    lines.push('', title);
    for (const m of list) lines.push(`  ${m.id}${m.required ? ' (required)' : ''}  used at ${m.lines.join(', ')}`);
  }
  return lines.join('\n') + '\n';
}

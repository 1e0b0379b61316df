import { TbuildError } from '../errors.js';
import type { ArgInstruction, Dockerfile, Heredoc, Instruction, ParseOptions, SourceRange, Stage } from './types.js';
import { scanDirectives } from './directives.js';
import { lex } from './lexer.js';
import { extractFlags } from './flags.js';
import { withSuggestion } from './suggest.js';
import { attachSource, registerSource } from './render.js';
import type { InstrInput } from './instructions/common.js';
import { parseFrom } from './instructions/from.js';
import { parseCmd, parseEntrypoint, parseRun, parseShell } from './instructions/run.js';
import { parseArg, parseEnv, parseLabel } from './instructions/keyvalue.js';
import { parseCopy } from './instructions/copy.js';
import { parseHealthcheck } from './instructions/healthcheck.js';
import { parseExpose, parseMaintainer, parseStopSignal, parseUser, parseVolume, parseWorkdir } from './instructions/simple.js';
import { parseOnbuild } from './instructions/onbuild.js';

type Parser = (input: InstrInput) => Instruction;

const PARSERS = new Map<string, Parser>(Object.entries({
  FROM: parseFrom,
  RUN: parseRun,
  CMD: parseCmd,
  ENTRYPOINT: parseEntrypoint,
  SHELL: parseShell,
  ENV: parseEnv,
  ARG: parseArg,
  LABEL: parseLabel,
  EXPOSE: parseExpose,
  VOLUME: parseVolume,
  USER: parseUser,
  WORKDIR: parseWorkdir,
  STOPSIGNAL: parseStopSignal,
  HEALTHCHECK: parseHealthcheck,
  ONBUILD: (input) => parseOnbuild(input, (text, heredocs, range, original) => parseInstruction({ text, heredocs, range, original }, input.escape, input.file)),
  MAINTAINER: parseMaintainer,
  COPY: parseCopy,
  ADD: parseCopy,
} satisfies Record<string, Parser>));

export const INSTRUCTION_NAMES: readonly string[] = [...PARSERS.keys()];

const WS = new Set([' ', '\t', '\v', '\f', '\r', '\n']);

interface Line {
  text: string;
  heredocs: Heredoc[];
  range: SourceRange;
  original: string;
}

/** One logical line to one typed instruction. */
export function parseInstruction(line: Line, escape: '\\' | '`', file?: string): Instruction {
  const text = line.text.trim();
  let cut = 0;
  while (cut < text.length && !WS.has(text[cut]!)) cut++;
  const keyword = text.slice(0, cut);
  const name = keyword.toUpperCase();
  const parser = PARSERS.get(name);
  if (!parser) {
    const { message, suggestion } = withSuggestion(`unknown instruction: ${keyword}`, name, INSTRUCTION_NAMES);
    throw new TbuildError('TB_PARSE_UNKNOWN_INSTRUCTION', message, {
      range: { ...line.range },
      file,
      details: { instruction: keyword, ...(suggestion ? { suggestion } : {}) },
    });
  }
  const { flags, rest } = extractFlags(text.slice(cut), escape);
  return parser({ keyword, name, flags, rest: rest.trim(), heredocs: line.heredocs, range: line.range, original: line.original, escape, file });
}

/**
 * Dockerfile text to typed instructions grouped into stages. Nothing is expanded here (see
 * types.ts). Throws TbuildError with the failing line's range and the source in
 * `details.source` (so the CLI can render the snippet).
 */
/**
 * The largest Dockerfile tbuild reads (BuildKit's frontend caps the definition it receives too): a
 * larger one is refused up front, before any of it is held in memory, instead of exhausting it.
 */
export const MAX_DOCKERFILE_BYTES = 10 * 1024 * 1024;

/** Refuse a Dockerfile over the limit, naming it and the limit. */
export function checkDockerfileSize(bytes: number, name: string): void {
  if (bytes > MAX_DOCKERFILE_BYTES) {
    throw new TbuildError(
      'TB_PARSE_TOO_LARGE',
      `Dockerfile ${name} is ${(bytes / 1024 / 1024).toFixed(1)} MiB: over the ${MAX_DOCKERFILE_BYTES / 1024 / 1024} MiB limit`,
    );
  }
}

export function parseDockerfile(text: string, opts: ParseOptions = {}): Dockerfile {
  const file = opts.file ?? 'Dockerfile';
  checkDockerfileSize(Buffer.byteLength(text), file);
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  registerSource(file, source);
  try {
    return parseSource(source, file);
  } catch (err) {
    if (err instanceof TbuildError && err.range) {
      err.file ??= file;
      attachSource(err, source);
    }
    throw err;
  }
}

function parseSource(source: string, file: string): Dockerfile {
  const rawLines = source.split(/\r?\n/);
  // a final newline ends the last line; it does not start another
  if (rawLines.length > 1 && rawLines[rawLines.length - 1] === '') rawLines.pop();
  const { directives, end } = scanDirectives(rawLines, file);
  const { lines, diagnostics } = lex(rawLines, directives.escape, end, file);
  if (lines.length === 0) {
    throw new TbuildError('TB_PARSE_EMPTY', 'the Dockerfile cannot be empty: file with no instructions', {
      file,
      details: { hint: 'add a FROM instruction' },
    });
  }
  const globalArgs: ArgInstruction[] = [];
  const stages: Stage[] = [];
  for (const line of lines) {
    const ins = parseInstruction({ ...line, original: line.text }, directives.escape, file);
    if (ins.kind === 'FROM') {
      stages.push({ index: stages.length, ...(ins.alias !== undefined ? { name: ins.alias } : {}), from: ins, instructions: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1]!.instructions.push(ins);
    } else if (ins.kind === 'ARG') {
      globalArgs.push(ins);
    } else {
      throw new TbuildError('TB_PARSE_NO_FROM', `no build stage in current context: ${ins.keyword} before the first FROM (only ARG may come before FROM)`, {
        range: { ...ins.range },
        file,
        details: { instruction: ins.keyword },
      });
    }
  }
  if (stages.length === 0) {
    const last = globalArgs[globalArgs.length - 1];
    throw new TbuildError('TB_PARSE_NO_FROM', 'the Dockerfile has no FROM instruction: no build stage to build', {
      file,
      ...(last ? { range: { ...last.range } } : {}),
    });
  }
  return { directives, globalArgs, stages, diagnostics, source, file };
}

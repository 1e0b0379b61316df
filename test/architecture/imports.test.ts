import { describe, expect, test } from 'vitest';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { PROJECT_ROOT } from '../support/paths.js';

/**
 * The module map as a test: no import cycles, nothing below the composition root imports it, and
 * the layers BuildKit keeps apart stay apart. Imports are read with TypeScript's own pre-processor
 * (type-only imports count: a cycle through types still couples the modules).
 */
const SRC = join(PROJECT_ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  const out: string[] = [];
  for (const ref of info.importedFiles) {
    if (!ref.fileName.startsWith('.')) continue;
    const target = resolve(dirname(file), ref.fileName).replace(/\.js$/, '.ts');
    if (existsSync(target)) out.push(target);
  }
  return out;
}

const files = sourceFiles(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const rel = (f: string) => relative(SRC, f);

function findCycles(): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'active' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'active');
    stack.push(f);
    for (const t of graph.get(f) ?? []) {
      if (state.get(t) === 'active') cycles.push(stack.slice(stack.indexOf(t)).map(rel));
      else if (!state.has(t)) visit(t);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  return cycles;
}

/** Files under `from` that import anything under `to`. */
function arrows(from: string, to: string): string[] {
  return files
    .filter((f) => rel(f).startsWith(from))
    .flatMap((f) => (graph.get(f) ?? []).filter((t) => rel(t).startsWith(to)).map((t) => `${rel(f)} -> ${rel(t)}`));
}

describe('module map', () => {
  test('the import graph has no cycles', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(findCycles()).toEqual([]);
  });

  test('only the entry points import the composition root', () => {
    const importers = files.filter((f) => (graph.get(f) ?? []).some((t) => rel(t) === 'engine.ts')).map(rel);
    // index.ts re-exports it for library users; the CLI opens it (lazily) when no daemon is selected.
    expect(importers.filter((f) => !['index.ts', 'cli/remote/wire.ts', 'cli/commands/daemon.ts'].includes(f))).toEqual([]);
    // Settings are read for the composition root alone.
    expect(files.filter((f) => (graph.get(f) ?? []).some((t) => rel(t) === 'engine-settings.ts')).map(rel)).toEqual(['engine.ts']);
  });

  test("BuildKit's layers stay apart", () => {
    // The solver knows nothing of Dockerfiles, workers, sessions or exporters.
    for (const room of ['frontend/', 'parser/', 'worker/', 'session/', 'exporter/', 'build/', 'containers/', 'daemon/', 'cli/']) {
      expect(arrows('solver/', room), room).toEqual([]);
    }
    // Nothing below the API layers reaches up into the CLI or the daemon.
    for (const room of ['cache/', 'exec/', 'images/', 'worker/', 'solver/', 'frontend/', 'session/', 'exporter/', 'build/', 'containers/', 'volumes/', 'api/']) {
      expect(arrows(room, 'cli/'), room).toEqual([]);
      expect(arrows(room, 'daemon/'), room).toEqual([]);
    }
    // Only engine.ts (and the shim, its own process) constructs the runc runtime.
    expect(files.filter((f) => (graph.get(f) ?? []).some((t) => rel(t) === 'exec/runc.ts')).map(rel).sort()).toEqual(['containers/shim.ts', 'engine.ts']);
  });
});

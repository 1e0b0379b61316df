import { describe, expect, test } from 'vitest';
import { Command } from 'commander';
import { COMMAND_MODULES, commandName, commandsFor } from '../../../src/cli/commands/index.js';
import type { CliContext } from '../../../src/cli/context.js';

const ctx = {} as CliContext;

describe('lazy command loading', () => {
  test('each module registers exactly the names the table gives it', async () => {
    for (const m of COMMAND_MODULES) {
      const program = new Command();
      (await m.load())(program, ctx);
      expect(program.commands.map((c) => c.name()).sort()).toEqual([...m.names].sort());
    }
  });

  test('no name belongs to two modules', () => {
    const all = COMMAND_MODULES.flatMap((m) => m.names);
    expect(new Set(all).size).toBe(all.length);
  });

  test('the command name is found past global options and their values', () => {
    expect(commandName(['node', 'tbuild', '--root', '/tmp/r', 'images', '-q'])).toBe('images');
    expect(commandName(['node', 'tbuild', '-H', 'unix:///x.sock', '--debug', 'run', 'busybox'])).toBe('run');
    expect(commandName(['node', 'tbuild', '--root=/tmp/r', 'build', '.'])).toBe('build');
    expect(commandName(['node', 'tbuild', '--help'])).toBeUndefined();
    expect(commandName(['node', 'tbuild'])).toBeUndefined();
  });

  test('a known command loads only its module; help or an unknown word loads all', async () => {
    expect(await commandsFor(['node', 'tbuild', 'ps', '-a'])).toHaveLength(1);
    expect(await commandsFor(['node', 'tbuild', '--help'])).toHaveLength(COMMAND_MODULES.length);
    expect(await commandsFor(['node', 'tbuild', 'biuld'])).toHaveLength(COMMAND_MODULES.length);
  });
});

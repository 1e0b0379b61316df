import { describe, expect, test } from 'vitest';
import { Command } from 'commander';
import { COMMAND_MODULES } from '../../../src/cli/commands/index.js';
import { lendToGroups } from '../../../src/cli/commands/groups.js';
import type { CliContext } from '../../../src/cli/context.js';

const ctx = {} as CliContext;

function walk(cmd: Command, path: string, out: Array<{ where: string; text: string }>): void {
  out.push({ where: path, text: cmd.description() });
  for (const o of cmd.options) out.push({ where: `${path} ${o.flags}`, text: o.description });
  for (const a of cmd.registeredArguments) if (a.description) out.push({ where: `${path} <${a.name()}>`, text: a.description });
  for (const sub of cmd.commands) walk(sub, `${path} ${sub.name()}`, out);
}

describe('help texts in one style: imperative, lower-case first word, no trailing period', () => {
  test('every command, flag and argument', async () => {
    const program = new Command('tbuild');
    for (const m of COMMAND_MODULES) (await m.load())(program, ctx);
    await lendToGroups(program, ctx);
    const texts: Array<{ where: string; text: string }> = [];
    for (const c of program.commands) walk(c, `tbuild ${c.name()}`, texts);
    expect(texts.length).toBeGreaterThan(200);
    const bad = texts.filter(({ text }) => !text || /\.$/.test(text) || /^[A-Z][a-z]/.test(text));
    expect(bad).toEqual([]);
  });
});

describe('examples in --help where Docker users look for them', () => {
  test.each([['build'], ['run'], ['network', 'create'], ['login']])('%s', async (...words) => {
    const { runCli } = await import('../../support/cli.js');
    const r = await runCli([...words, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`\\nExamples:\\n  tbuild ${words.join(' ').replace('network create', 'network')}`));
  });
});

describe('help says only what helps', () => {
  test('a repeatable flag shows no "(default: [])"; container inspect speaks of containers', async () => {
    const { runCli } = await import('../../support/cli.js');
    const run = await runCli(['run', '--help']);
    expect(run.stdout).toContain('-e, --env <KEY=VALUE>');
    expect(run.stdout).not.toContain('(default: [])');
    expect((await runCli(['container', 'inspect', '--help'])).stdout).toContain('display detailed information on one or more containers');
  });
});

describe('typos: Docker\'s pointer to --help and the closest name', () => {
  test('an unknown command, subcommand or flag', async () => {
    const { runCli } = await import('../../support/cli.js');
    const cmd = await runCli(['imgaes']);
    expect(cmd.code).not.toBe(0);
    expect(cmd.stderr).toContain("error: unknown command 'imgaes'");
    expect(cmd.stderr).toContain('(Did you mean images?)');
    expect(cmd.stderr).toContain("See 'tbuild --help'.");
    const sub = await runCli(['network', 'lss']);
    expect(sub.stderr).toContain('(Did you mean ls?)');
    expect(sub.stderr).toContain("See 'tbuild network --help'.");
    const flag = await runCli(['ps', '--quite']);
    expect(flag.code).not.toBe(0);
    expect(flag.stderr).toContain("error: unknown option '--quite'");
    expect(flag.stderr).toContain('(Did you mean --quiet?)');
    expect(flag.stderr).toContain("See 'tbuild ps --help'.");
  });
});

import { Command } from 'commander';
import type { CliContext } from '../context.js';
import { COMMAND_MODULES } from './index.js';

/**
 * Docker's second names: `image save`, `container inspect`, `builder du`… Each verb is defined
 * once by the module that owns its top-level form and lent to the group here, so the two
 * spellings cannot drift apart.
 */
const LENT: Record<string, Array<{ verb: string; as?: string; defaults?: Record<string, string>; description?: string }>> = {
  image: [{ verb: 'save' }, { verb: 'load' }, { verb: 'pull' }, { verb: 'push' }, { verb: 'build' }],
  builder: [{ verb: 'build' }],
  container: [
    { verb: 'inspect', defaults: { type: 'container' }, description: 'display detailed information on one or more containers' },
    { verb: 'cp' },
    { verb: 'port' },
    { verb: 'attach' },
    { verb: 'stats' },
    { verb: 'update' },
    { verb: 'commit' },
    { verb: 'export' },
    { verb: 'diff' },
  ],
};

/** Adds the lent verbs to the groups `program` has (all of them, or only `only`). */
export async function lendToGroups(program: Command, ctx: CliContext, only?: string): Promise<void> {
  for (const [groupName, verbs] of Object.entries(LENT)) {
    if (only !== undefined && only !== groupName) continue;
    const group = program.commands.find((c) => c.name() === groupName);
    if (!group) continue;
    for (const { verb, as, defaults, description } of verbs) {
      const name = as ?? verb;
      if (group.commands.some((c) => c.name() === name)) continue;
      const owner = COMMAND_MODULES.find((m) => m.names.includes(verb));
      if (!owner) continue;
      const scratch = new Command().enablePositionalOptions().exitOverride();
      (await owner.load())(scratch, ctx);
      const cmd = scratch.commands.find((c) => c.name() === verb);
      if (!cmd) continue;
      for (const [option, value] of Object.entries(defaults ?? {})) {
        // Commander stores defaults when an option is added; this one is set after the fact.
        cmd.setOptionValueWithSource(option, value, 'default');
      }
      cmd.name(name);
      if (description) cmd.description(description);
      group.addCommand(cmd);
    }
  }
}

import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import type { RegisterCommand } from '../context.js';
import { TbuildError } from '../../errors.js';

/**
 * `tbuild completion bash|zsh|fish`: scripts generated from the command definitions themselves
 * (so they cannot fall behind), completing commands, flags, and the names of images, containers,
 * volumes and networks that `tbuild __complete KIND` reads from the store when TAB is pressed.
 */
export const registerCompletion: RegisterCommand = (program, ctx) => {
  program
    .command('completion')
    .description('generate the shell completion script (bash, zsh or fish)')
    .argument('<shell>', 'bash, zsh or fish')
    .addHelpText('after', '\nExamples:\n  source <(tbuild completion bash)\n  tbuild completion fish > ~/.config/fish/completions/tbuild.fish')
    .action((shell: string) => {
      const tree = commandTree(program);
      if (shell === 'bash') ctx.stdout.write(bashScript(tree));
      else if (shell === 'zsh') ctx.stdout.write(`#compdef tbuild\nautoload -U +X bashcompinit && bashcompinit\n${bashScript(tree)}`);
      else if (shell === 'fish') ctx.stdout.write(fishScript(tree));
      else throw new TbuildError('TB_INVALID_ARGUMENT', `unsupported shell "${shell}": bash, zsh or fish`);
    });
  program
    .command('__complete', { hidden: true })
    .description('print the names TAB offers: images, containers, volumes or networks')
    .argument('<kinds>', 'images, containers, volumes or networks; several with commas')
    .action(async (kinds: string) => {
      const wanted = kinds.split(',');
      for (const k of wanted) if (!KINDS.includes(k as Kind)) throw new TbuildError('TB_INVALID_ARGUMENT', `unknown completion kind "${k}"`);
      // TAB on a line naming a root that does not exist offers nothing, and makes no root
      if (!ctx.host() && !existsSync(ctx.root())) return;
      const engine = await ctx.engine();
      const names: string[] = [];
      for (const kind of wanted) {
        if (kind === 'images') names.push(...(await engine.images.list()).flatMap((i) => i.names.map(familiar)));
        else if (kind === 'containers') names.push(...(await engine.containers.list({ all: true })).map((c) => c.name));
        else if (kind === 'volumes') names.push(...((await engine.volumes?.list()) ?? []).map((v) => v.name));
        else names.push(...((await engine.networks?.list()) ?? []).map((n) => String(n.Name)));
      }
      ctx.stdout.write(names.map((n) => `${n}\n`).join(''));
    });
};

function familiar(name: string): string {
  return name.replace(/^docker\.io\/(library\/)?/, '');
}

const KINDS = ['images', 'containers', 'volumes', 'networks'] as const;
type Kind = (typeof KINDS)[number];

interface Node {
  path: string;
  subs: string[];
  flags: string[];
  /** Flags that take a value (the next word is theirs, not an operand). */
  valueFlags: string[];
  /** What each operand names (`images,containers` for either), for completion from the store; the last repeats when variadic. */
  operands: string[];
  /** The last operand takes any number of words. */
  variadic: boolean;
  /** Each flag's help text (fish shows it). */
  help: Record<string, string>;
}

/** Operands whose names do not say what they are. */
const OPERANDS: Record<string, string[]> = {
  inspect: ['images,containers'],
  tag: ['images', 'images'],
  'image tag': ['images', 'images'],
  push: ['images'],
  'image push': ['images'],
  cp: ['containers', 'containers'],
  'container cp': ['containers', 'containers'],
  'volume create': [''],
};

function operandKinds(path: string, cmd: Command): string[] {
  if (OPERANDS[path]) return OPERANDS[path]!;
  return cmd.registeredArguments.map((a) => {
    const arg = a.name();
    if (/image/.test(arg)) return 'images';
    if (/container/.test(arg)) return 'containers';
    if (/network/.test(arg)) return 'networks';
    if (path.startsWith('volume ') && arg === 'name') return 'volumes';
    return '';
  });
}

function commandTree(program: Command): Node[] {
  const out: Node[] = [];
  const visit = (cmd: Command, path: string) => {
    const subs = cmd.commands.filter((c) => c.name() !== '__complete' && c.name() !== 'help').map((c) => c.name());
    const flags = cmd.options.flatMap((o) => [o.short, o.long].filter((f): f is string => !!f)).concat('--help');
    const valueFlags = cmd.options.filter((o) => o.required).flatMap((o) => [o.short, o.long].filter((f): f is string => !!f));
    const args = cmd.registeredArguments;
    const help = Object.fromEntries(cmd.options.flatMap((o) => [o.short, o.long].filter((f): f is string => !!f).map((f) => [f, o.description])));
    out.push({ path, subs, flags, valueFlags, operands: operandKinds(path, cmd), variadic: Boolean(args[args.length - 1]?.variadic), help });
    for (const c of cmd.commands) if (c.name() !== '__complete' && c.name() !== 'help') visit(c, path ? `${path} ${c.name()}` : c.name());
  };
  visit(program, '');
  return out;
}

function bashScript(tree: Node[]): string {
  const cases = (pick: (n: Node) => string) =>
    tree
      .map((n) => [n.path, pick(n)] as const)
      .filter(([, v]) => v)
      .map(([p, v]) => `    "${p}") echo "${v}" ;;`)
      .join('\n');
  return `# tbuild completion for bash (generated by \`tbuild completion bash\`)
__tbuild_subs() {
  case "$1" in
${cases((n) => n.subs.join(' '))}
  esac
}
__tbuild_flags() {
  case "$1" in
${cases((n) => n.flags.join(' '))}
  esac
}
__tbuild_valflags() {
  case "$1" in
${cases((n) => n.valueFlags.join(' '))}
  esac
}
# what each operand of a command names (images, containers, …; - for nothing; + repeats the last)
__tbuild_operand_list() {
  case "$1" in
${cases((n) => (n.operands.some(Boolean) ? `${n.operands.map((k) => k || '-').join(' ')}${n.variadic ? ' +' : ''}` : ''))}
  esac
}
_tbuild() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" i w subs kind n=0 list vf
  local -a globals=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$w" in
      # the root or daemon the line names is where the names come from
      --root|-H|--host) globals+=("$w" "\${COMP_WORDS[i+1]}"); ((i++)); continue ;;
      --root=*|--host=*) globals+=("$w"); continue ;;
      --runtime) ((i++)); continue ;;
      -*) vf=" $(__tbuild_valflags "$path") "; [[ "$w" != *=* && "$vf" == *" $w "* ]] && ((i++)); continue ;;
    esac
    subs=" $(__tbuild_subs "$path") "
    if [[ "$subs" == *" $w "* ]]; then path="\${path:+$path }$w"; else break; fi
  done
  # count the operands before the cursor, skipping flags and their values
  vf=" $(__tbuild_valflags "$path") "
  for ((; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if [[ "$w" == -* ]]; then [[ "$w" != *=* && "$vf" == *" $w "* ]] && ((i++)); continue; fi
    ((n++))
  done
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(__tbuild_flags "$path")" -- "$cur"))
    return
  fi
  subs="$(__tbuild_subs "$path")"
  if [[ -n "$subs" && $i -ge $COMP_CWORD ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
    return
  fi
  list=($(__tbuild_operand_list "$path"))
  if [[ \${#list[@]} -gt 0 ]]; then
    if ((n < \${#list[@]})) && [[ "\${list[n]}" != "+" ]]; then kind="\${list[n]}"
    elif [[ "\${list[-1]}" == "+" ]]; then kind="\${list[-2]}"
    else kind=""; fi
  fi
  if [[ -n "$kind" && "$kind" != "-" ]]; then
    COMPREPLY=($(compgen -W "$(tbuild "\${globals[@]}" __complete "$kind" 2>/dev/null)" -- "$cur"))
  fi
}
complete -o default -F _tbuild tbuild
`;
}

function fishScript(tree: Node[]): string {
  const lines = ['# tbuild completion for fish (generated by `tbuild completion fish`)', 'complete -c tbuild -f'];
  // a top-level verb's rules must not fire inside a group that has a verb of the same name (`image rm`)
  const groups = tree.filter((n) => n.path && !n.path.includes(' ') && n.subs.length).map((n) => n.path);
  const quote = (t: string) => `'${t.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  for (const n of tree) {
    const words = n.path ? n.path.split(' ') : [];
    let cond = '__fish_use_subcommand';
    if (words.length === 1) cond = `__fish_seen_subcommand_from ${words[0]}${groups.includes(words[0]!) ? '' : `; and not __fish_seen_subcommand_from ${groups.join(' ')}`}`;
    else if (words.length > 1) cond = `__fish_seen_subcommand_from ${words[words.length - 1]}; and __fish_seen_subcommand_from ${words[0]}`;
    if (n.subs.length) lines.push(`complete -c tbuild -n '${cond}' -a '${n.subs.join(' ')}'`);
    for (const f of n.flags) {
      const desc = n.help[f] ? ` -d ${quote(n.help[f]!)}` : '';
      lines.push(f.startsWith('--') ? `complete -c tbuild -n '${cond}' -l ${f.slice(2)}${desc}` : `complete -c tbuild -n '${cond}' -s ${f.slice(1)}${desc}`);
    }
    const kind = n.operands.find(Boolean);
    if (kind) lines.push(`complete -c tbuild -n '${cond}' -a '(tbuild __complete ${kind} 2>/dev/null)'`);
  }
  return lines.join('\n') + '\n';
}

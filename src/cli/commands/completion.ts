// jobctl completion: a script for bash, zsh or fish that completes jobctl's commands and each
// command's flags. The flags are read from each command's --help text, the one place they are
// listed for people, so the completion cannot drift from what the help says.
import type { Command } from '../command.ts';
import { defineCommand } from '../define-command.ts';
import { UsageError } from '../errors.ts';
import { EXIT } from '../exit-status.ts';

const SHELLS = ['bash', 'zsh', 'fish'] as const;
type Shell = (typeof SHELLS)[number];

const HELP = `Usage: jobctl completion SHELL

Print a script that completes jobctl's commands and their flags in SHELL: bash, zsh or fish.

Examples:
  source <(jobctl completion bash)                     # in ~/.bashrc
  jobctl completion zsh > "\${fpath[1]}/_jobctl"        # then restart zsh
  jobctl completion fish > ~/.config/fish/completions/jobctl.fish
`;

/** The commands to complete, as commands.ts lists them (passed in: it loads this module). */
type CommandTable = Readonly<Record<string, { readonly load: () => Promise<Command> }>>;

export const commandFor = (commands: CommandTable): Command =>
  defineCommand({
    name: 'completion',
    help: HELP,
    options: {},
    // It writes a script and talks to no server.
    connection: false,
    // The shell.
    arguments: { takes: 'words' },
    async run({ positionals }) {
      const [shell, extra] = positionals;
      if (shell === undefined || !(SHELLS as readonly string[]).includes(shell)) {
        throw new UsageError(`completion needs the shell: one of ${SHELLS.join(', ')}`);
      }
      if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
      const flags = new Map<string, string[]>();
      for (const [name, entry] of Object.entries(commands)) {
        flags.set(name, flagsOf(name === 'completion' ? HELP : (await entry.load()).help));
      }
      process.stdout.write(SCRIPTS[shell as Shell](flags));
      return EXIT.OK;
    },
  });

/** The long flags a help text lists in its Options section. */
export function flagsOf(help: string): string[] {
  const flags = new Set<string>();
  for (const match of help.matchAll(/^ {2}(?:-\w, )?\s*(--[a-z][a-z0-9-]*)/gm)) {
    if (match[1] !== undefined) flags.add(match[1]);
  }
  return [...flags];
}

const CONNECTION_FLAGS = '--server --ca --cert --key --client --certs-dir --context --color';

const SCRIPTS: Readonly<Record<Shell, (flags: ReadonlyMap<string, string[]>) => string>> = {
  bash: (flags) => `# jobctl completion for bash: source <(jobctl completion bash)
_jobctl() {
  local cur=\${COMP_WORDS[COMP_CWORD]} cmd="" word
  for word in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    case "$word" in -*) ;; *) cmd=$word; break ;; esac
  done
  local words
  case "$cmd" in
${[...flags].map(([name, list]) => `    ${name}) words="${list.join(' ')}" ;;`).join('\n')}
    "") words="${[...flags.keys()].join(' ')} --help --version" ;;
    *) words="" ;;
  esac
  [ -n "$cmd" ] && words="$words ${CONNECTION_FLAGS}"
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _jobctl jobctl
`,
  zsh: (flags) => `#compdef jobctl
# jobctl completion for zsh: jobctl completion zsh > "\${fpath[1]}/_jobctl"
_jobctl() {
  local -a commands
  commands=(${[...flags.keys()].map((name) => `'${name}'`).join(' ')})
  if (( CURRENT == 2 )); then
    compadd -a commands
    return
  fi
  case "\${words[2]}" in
${[...flags].map(([name, list]) => `    ${name}) compadd -- ${list.join(' ')} ${CONNECTION_FLAGS} ;;`).join('\n')}
  esac
}
compdef _jobctl jobctl
`,
  fish: (flags) =>
    [
      '# jobctl completion for fish: jobctl completion fish > ~/.config/fish/completions/jobctl.fish',
      'complete -c jobctl -f',
      ...[...flags.keys()].map((name) => `complete -c jobctl -n __fish_use_subcommand -a ${name}`),
      ...[...flags].flatMap(([name, list]) =>
        list.map(
          (flag) =>
            `complete -c jobctl -n '__fish_seen_subcommand_from ${name}' -l ${flag.slice(2)}`,
        ),
      ),
      '',
    ].join('\n'),
};

import { usageError } from './cliError.js';

/**
 * The argument-handling layer both CLIs share: a declarative description of each command
 * (its options, arguments, one example) from which come both the parser and the help.
 *
 * Not node's `util.parseArgs`: its errors leak into what the user sees — `--lifetime -5`
 * is "ambiguous … use '--lifetime=-XYZ'", a form the user never typed, and an unknown
 * option ends in advice with an unclosed quote. Here a value that starts with `-` is a value
 * unless it is one of the tool's own options, every message names the option as the user
 * spelled it, and an unknown option gets a "did you mean".
 */

export interface OptionSpec {
  /** Long name, without the dashes. */
  name: string;
  short?: string;
  /** The value's placeholder (`<minutes>`); an option without one is a switch. */
  value?: string;
  help: string;
}

export interface ArgumentSpec {
  name: string;
  help: string;
}

export interface CommandSpec {
  /** One word, or a group and a word (`devices list`): the words the user types. */
  name: string;
  summary: string;
  /** Options of this command only (the tool's common options are added to every command). */
  options: readonly OptionSpec[];
  arguments?: readonly ArgumentSpec[];
  /** Other ways to write the command (the Configuration Manager syntax), shown in its help. */
  alternatives?: readonly string[];
  /** Lines after the options: what the command does, defaults, ranges. */
  notes?: readonly string[];
  example: string;
  /** This command's exit codes, when they differ from the tool's. */
  exitCodes?: ReadonlyArray<readonly [number, string]>;
}

export interface ToolSpec {
  name: string;
  summary: string;
  commands: readonly CommandSpec[];
  common: readonly OptionSpec[];
  exitCodes: ReadonlyArray<readonly [number, string]>;
  /** Lines of the general help between the commands and the options. */
  notes?: readonly string[];
}

export type Values = ReadonlyMap<string, string | true>;

export type Parsed =
  | { kind: 'help'; command: CommandSpec | undefined }
  | { kind: 'version' }
  | { kind: 'none' }
  | { kind: 'run'; command: CommandSpec; values: Values; args: readonly string[]; spelled: (name: string) => string };

export const helpOption: OptionSpec = { name: 'help', short: 'h', help: 'this help' };
export const debugOption: OptionSpec = { name: 'debug', help: 'on an unexpected error, print the whole error with its stack' };
export const versionOption: OptionSpec = { name: 'version', help: 'print the version and exit' };

/**
 * Parses `argv` against `tool`. `spelling` maps an option's name to how the user wrote it
 * when an earlier rewrite changed it (`/lifetime` → `--lifetime`), so messages quote the user.
 */
export function parseCommandLine(tool: ToolSpec, argv: readonly string[], spelling: ReadonlyMap<string, string> = new Map()): Parsed {
  const known = new Map<string, OptionSpec>();
  for (const option of [...tool.common, ...tool.commands.flatMap((command) => command.options)]) known.set(option.name, option);
  const byShort = new Map([...known.values()].filter((option) => option.short).map((option) => [option.short as string, option]));
  const spelled = (name: string) => spelling.get(name) ?? `--${name}`;

  const values = new Map<string, string | true>();
  const positionals: string[] = [];
  const isOption = (arg: string) => {
    if (arg.startsWith('--')) return known.has(arg.slice(2).split('=')[0] ?? '');
    return arg.length === 2 && arg.startsWith('-') && byShort.has(arg.slice(1));
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let option: OptionSpec | undefined;
    let inline: string | undefined;
    if (arg.startsWith('--') && arg.length > 2) {
      const eq = arg.indexOf('=');
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq === -1 ? undefined : arg.slice(eq + 1);
      option = known.get(name);
      if (!option) throw unknownOption(tool, `--${name}`, [...known.keys()]);
    } else if (arg.startsWith('-') && arg.length > 1 && !/^-\d/.test(arg)) {
      option = byShort.get(arg.slice(1));
      if (!option) throw unknownOption(tool, arg, [...known.keys()]);
    } else {
      positionals.push(arg);
      continue;
    }
    if (option.name === 'help') return { kind: 'help', command: findCommand(tool, positionals)?.command };
    if (option.name === 'version') return { kind: 'version' };
    if (values.has(option.name)) throw usageError(`${spelled(option.name)} is given twice`, 'give it once');
    if (option.value === undefined) {
      if (inline !== undefined) throw usageError(`${spelled(option.name)} takes no value (got ${JSON.stringify(inline)})`);
      values.set(option.name, true);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || isOption(next)) {
        throw usageError(`${spelled(option.name)} needs a value ${option.value}`, `run ${tool.name} ${findCommand(tool, positionals)?.command.name ?? positionals[0] ?? ''} --help`.replace('  ', ' '));
      }
      value = next;
      i++;
    }
    values.set(option.name, value);
  }

  if (positionals[0] === undefined) return { kind: 'none' };
  if (positionals[0] === 'help') {
    const asked = positionals.slice(1);
    if (asked.length > 0 && !findCommand(tool, asked)) throw unknownCommand(tool, asked);
    return { kind: 'help', command: findCommand(tool, asked)?.command };
  }
  const found = findCommand(tool, positionals);
  if (!found) throw unknownCommand(tool, positionals);
  const { command } = found;
  const args = positionals.slice(found.words);

  const allowed = new Set([...tool.common, ...command.options].map((option) => option.name));
  for (const given of values.keys()) {
    if (!allowed.has(given)) {
      const others = tool.commands.filter((other) => other.options.some((option) => option.name === given)).map((other) => other.name);
      throw usageError(`${spelled(given)} is not an option of ${command.name} (it belongs to ${others.join(', ')})`, `run ${tool.name} ${command.name} --help`);
    }
  }
  const expected = command.arguments ?? [];
  if (args.length < expected.length) {
    throw usageError(`${command.name} needs ${expected.map((argument) => `<${argument.name}>`).join(' ')}`, `run ${tool.name} ${command.name} --help`);
  }
  if (args.length > expected.length) {
    throw usageError(`unexpected argument ${JSON.stringify(args[expected.length])} after ${command.name}`, `run ${tool.name} ${command.name} --help`);
  }
  return { kind: 'run', command, values, args, spelled };
}

/** The command the first words name: a group and a word (`devices list`) before a single word. */
function findCommand(tool: ToolSpec, words: readonly string[]): { command: CommandSpec; words: number } | undefined {
  const [first, second] = words;
  if (first === undefined) return undefined;
  const pair = second === undefined ? undefined : tool.commands.find((command) => command.name === `${first} ${second}`);
  if (pair) return { command: pair, words: 2 };
  const single = tool.commands.find((command) => command.name === first);
  return single ? { command: single, words: 1 } : undefined;
}

function unknownCommand(tool: ToolSpec, words: readonly string[]) {
  const [first = '', second] = words;
  const inGroup = tool.commands.filter((command) => command.name.startsWith(`${first} `));
  if (inGroup.length > 0) {
    const subcommands = inGroup.map((command) => command.name.slice(first.length + 1));
    if (second === undefined) {
      return usageError(`${first} needs a subcommand: ${subcommands.join(', ')}`, `run ${tool.name} ${first} <subcommand> --help`);
    }
    const guess = closest(second, subcommands);
    return usageError(
      `unknown command ${JSON.stringify(`${first} ${second}`)}${guess ? `; did you mean ${first} ${guess}?` : ''}`,
      `${first} has ${subcommands.join(', ')}; run ${tool.name} --help`,
    );
  }
  const names = [...new Set(tool.commands.map((command) => command.name.split(' ')[0] ?? ''))];
  const guess = closest(first, names);
  return usageError(
    `unknown command ${JSON.stringify(first)}${guess ? `; did you mean ${guess}?` : ''}`,
    `commands: ${names.join(', ')}; run ${tool.name} --help`,
  );
}

function unknownOption(tool: ToolSpec, given: string, names: readonly string[]) {
  const guess = closest(given.replace(/^-+/, ''), names);
  return usageError(`unknown option ${given}${guess ? `; did you mean --${guess}?` : ''}`, `run ${tool.name} --help`);
}

/** The name nearest to `given` (a prefix of it, or within two edits), if any. */
function closest(given: string, names: readonly string[]): string | undefined {
  const lower = given.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const name of names) {
    const distance = name.startsWith(lower) || lower.startsWith(name) ? 1 : editDistance(lower, name);
    if (distance <= 2 && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

// Help ---------------------------------------------------------------------------------

function optionLines(options: readonly OptionSpec[]): string[] {
  const heads = options.map((option) => `${option.short ? `-${option.short}, ` : ''}--${option.name}${option.value ? ` ${option.value}` : ''}`);
  const width = Math.max(...heads.map((head) => head.length)) + 3;
  return options.flatMap((option, index) => {
    const [first, ...rest] = option.help.split('\n');
    return [`  ${(heads[index] ?? '').padEnd(width)}${first ?? ''}`, ...rest.map((line) => `  ${' '.repeat(width)}${line}`)];
  });
}

function exitCodeLines(codes: ReadonlyArray<readonly [number, string]>): string[] {
  return ['Exit codes:', ...codes.map(([code, meaning]) => `  ${code}  ${meaning}`)];
}

function synopsis(tool: ToolSpec, command: CommandSpec): string {
  const options = command.options.map((option) => `[--${option.name}${option.value ? ` ${option.value}` : ''}]`);
  return [tool.name, command.name, ...(command.arguments ?? []).map((argument) => `<${argument.name}>`), ...options].join(' ');
}

/** The general help, or one command's: its synopsis, options, notes, one example and exit codes. */
export function helpText(tool: ToolSpec, command?: CommandSpec): string {
  if (!command) {
    const width = Math.max(...tool.commands.map((each) => each.name.length)) + 3;
    return [
      `${tool.name}: ${tool.summary}`,
      '',
      'Commands:',
      ...tool.commands.map((each) => `  ${each.name.padEnd(width)}${each.summary}`),
      ...(tool.notes ? ['', ...tool.notes] : []),
      '',
      'Options of every command:',
      ...optionLines(tool.common),
      '',
      `Run ${tool.name} <command> --help for a command's options and an example.`,
      '',
      ...exitCodeLines(tool.exitCodes),
    ].join('\n');
  }
  return [
    `${tool.name} ${command.name}: ${command.summary}`,
    '',
    'Usage:',
    `  ${synopsis(tool, command)}`,
    ...(command.alternatives ?? []).map((line) => `  ${line}`),
    ...((command.arguments ?? []).length > 0 ? ['', 'Arguments:', ...(command.arguments ?? []).map((argument) => `  <${argument.name}>   ${argument.help}`)] : []),
    ...(command.options.length > 0 ? ['', 'Options:', ...optionLines(command.options)] : []),
    '',
    'Options of every command:',
    ...optionLines(tool.common),
    ...(command.notes ? ['', ...command.notes] : []),
    '',
    'Example:',
    `  ${command.example}`,
    '',
    ...exitCodeLines(command.exitCodes ?? tool.exitCodes),
  ].join('\n');
}

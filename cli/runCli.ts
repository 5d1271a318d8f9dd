import { CliError, exitCodes } from './cliError.js';

/**
 * The one top-level printer of both CLIs: runs the command and turns any failure into one
 * line on stderr — "<tool>: <what was wrong>; <what to do>" — and an exit code. A stack is
 * printed only with `--debug` (or CMG_DEBUG=1), and only then.
 */
export async function runCli(
  tool: string,
  argv: readonly string[],
  env: Record<string, string | undefined>,
  command: () => Promise<number>,
): Promise<number> {
  const beforeEnd = argv.indexOf('--');
  const debug = (beforeEnd === -1 ? argv : argv.slice(0, beforeEnd)).includes('--debug') || env.CMG_DEBUG === '1';
  try {
    return await command();
  } catch (error) {
    process.stderr.write(`${errorLine(tool, error)}\n`);
    if (debug) process.stderr.write(`${detail(error)}\n`);
    return error instanceof CliError ? error.exitCode : exitCodes.refused;
  }
}

/** One line, whatever the error: never a stack, never a newline inside. */
export function errorLine(tool: string, error: unknown): string {
  const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ');
  if (error instanceof CliError) return oneLine(`${tool}: ${error.message}${error.hint ? `; ${error.hint}` : ''}`);
  const message = error instanceof Error ? error.message : String(error);
  return oneLine(`${tool}: unexpected error: ${message}; run again with --debug for details, and report it if it persists`);
}

function detail(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    // A thrown non-Error is shown as String() shows it, whatever it is.
    // eslint-disable-next-line @typescript-eslint/no-base-to-string
    parts.push(current instanceof Error ? (current.stack ?? String(current)) : String(current));
    current = current instanceof Error ? current.cause : undefined;
    if (current !== undefined) parts.push('caused by:');
  }
  return parts.join('\n');
}

/**
 * The exit codes of both CLIs. Scripts switch on them, so they never change meaning:
 * 2 is only for mistakes found before anything was sent or written.
 */
export const exitCodes = {
  ok: 0,
  refused: 1,
  usage: 2,
  pending: 3,
  notRegistered: 4,
} as const;

export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];

export interface CliErrorDetails {
  /** What to do about it; printed after the message, on the same line. */
  hint?: string;
  /** The service's HTTP status, when it answered. */
  status?: number | undefined;
  /** The service's problem code (`token_expired`, …), when it answered with one. */
  code?: string | undefined;
  cause?: unknown;
}

/**
 * The one error type of both CLIs: a message naming what was wrong, an optional hint saying
 * what to do, and the exit code. The top-level printer (`runCli`) shows it as one line.
 */
export class CliError extends Error {
  readonly hint: string | undefined;
  readonly status: number | undefined;
  readonly code: string | undefined;

  constructor(
    message: string,
    readonly exitCode: ExitCode = exitCodes.refused,
    details: CliErrorDetails = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'CliError';
    this.hint = details.hint;
    this.status = details.status;
    this.code = details.code;
  }
}

/** A mistake in the command line or the environment, found before anything was sent or written. */
export function usageError(message: string, hint?: string): CliError {
  return new CliError(message, exitCodes.usage, hint === undefined ? {} : { hint });
}

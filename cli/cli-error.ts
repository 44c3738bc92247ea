/** Exit codes of `hypertuna-gateway` (README, "CLI"). */
export const ExitCode = {
  OK: 0,
  /** Anything not listed below. */
  FAILURE: 1,
  /** Bad flags or arguments; the command's --help says how. */
  USAGE: 2,
  /** The gateway could not be reached, or refused the call. */
  GATEWAY: 3,
  /** The local relay could not be reached. */
  LOCAL_RELAY: 4,
} as const

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

/** A failure the CLI reports as one clear line (or one JSON object) and an exit code. */
export class CliError extends Error {
  readonly exitCode: ExitCodeValue
  /** Stable, for `--json` consumers: `usage`, `gateway_unreachable`, `admin_unauthorized`, ... */
  readonly code: string

  constructor(exitCode: ExitCodeValue, code: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'CliError'
    this.exitCode = exitCode
    this.code = code
  }
}

/** A usage error (exit 2). */
export function usageError(message: string): CliError {
  return new CliError(ExitCode.USAGE, 'usage', message)
}

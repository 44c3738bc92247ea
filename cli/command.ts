import { parseArgs } from 'node:util'
import type { ParseArgsConfig } from 'node:util'
import { usageError } from './cli-error.js'
import type { CliStreams } from './output.js'
import { Output } from './output.js'

type OptionSpec = NonNullable<ParseArgsConfig['options']>

/** What a command's `run` is given. */
export interface CommandContext {
  values: Record<string, string | boolean | undefined>
  positionals: string[]
  out: Output
  env: NodeJS.ProcessEnv
  /** Resolves when the user asks the command to stop (SIGINT/SIGTERM). */
  stopSignal: Promise<string>
}

/** One `hypertuna-gateway` command (one file each under cli/). */
export interface Command {
  name: string
  summary: string
  /** The --help text below the summary: usage line, arguments, options. */
  help: string
  options: OptionSpec
  run(context: CommandContext): Promise<void>
}

/** Flags every command takes. */
export const COMMON_OPTIONS: OptionSpec = {
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
}

/** The --help lines of {@link COMMON_OPTIONS}. */
export const COMMON_HELP = `  --json                  machine-readable output on stdout
  -h, --help              this help`

/** Parses `argv` for `command` strictly; unknown flags are usage errors. */
export function parseCommandArgs(
  command: Command,
  argv: string[],
): { values: CommandContext['values']; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...COMMON_OPTIONS, ...command.options },
      allowPositionals: true,
      strict: true,
    })
    return { values: values as CommandContext['values'], positionals }
  } catch (err) {
    throw usageError(`${command.name}: ${(err as Error).message}`)
  }
}

/** The full --help text of a command. */
export function helpText(command: Command): string {
  return `${command.summary}\n\n${command.help.trimEnd()}\n${COMMON_HELP}\n`
}

/** An Output for `values.json`. */
export function outputFor(streams: CliStreams, values: CommandContext['values']): Output {
  return new Output(streams, values.json === true)
}

/** A string flag, or undefined. */
export function stringFlag(values: CommandContext['values'], name: string): string | undefined {
  const value = values[name]
  return typeof value === 'string' ? value : undefined
}

/** A required string flag; a usage error naming it when absent. */
export function requiredFlag(
  values: CommandContext['values'],
  name: string,
  command: string,
): string {
  const value = stringFlag(values, name)
  if (value === undefined || value === '') throw usageError(`${command}: --${name} is required`)
  return value
}

/** A positive integer flag, or undefined. */
export function intFlag(values: CommandContext['values'], name: string): number | undefined {
  const text = stringFlag(values, name)
  if (text === undefined) return undefined
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n <= 0) throw usageError(`--${name} must be a positive integer`)
  return n
}

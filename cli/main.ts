#!/usr/bin/env node
// `hypertuna-gateway`: the package's bin. One file per command under cli/.
import { readFileSync } from 'node:fs'
import { CliError, ExitCode } from './cli-error.js'
import type { Command } from './command.js'
import { helpText, outputFor, parseCommandArgs } from './command.js'
import { exposeCommand } from './expose-command.js'
import type { CliStreams } from './output.js'
import { Output } from './output.js'
import { relayCommand } from './relay-command.js'
import { statusCommand } from './status-command.js'
import { tokenCommand } from './token-command.js'
import { workerCommand } from './worker-command.js'

const COMMANDS: readonly Command[] = [
  exposeCommand,
  tokenCommand,
  relayCommand,
  workerCommand,
  statusCommand,
]

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return pkg.version
}

function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length))
  return `hypertuna-gateway: publish Nostr relays through a Hypertuna gateway, and operate one.

Usage: hypertuna-gateway <command> [options]    (hypertuna-gateway <command> --help)

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Options: --help, --version. Every command takes --json for machine-readable output.
`
}

/** Runs one CLI invocation; resolves with the exit code (never exits the process itself). */
export async function runCli(
  argv: string[],
  streams: CliStreams,
  env: NodeJS.ProcessEnv,
  stopSignal: Promise<string>,
): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    streams.stdout.write(topHelp())
    return name === undefined ? ExitCode.USAGE : ExitCode.OK
  }
  if (name === '--version') {
    streams.stdout.write(`${version()}\n`)
    return ExitCode.OK
  }
  const command = COMMANDS.find((c) => c.name === name)
  const json = rest.includes('--json')
  if (command === undefined) {
    new Output(streams, json).error('usage', `unknown command "${name}" (try --help)`)
    return ExitCode.USAGE
  }
  let out = new Output(streams, json)
  try {
    const { values, positionals } = parseCommandArgs(command, rest)
    out = outputFor(streams, values)
    if (values.help === true) {
      streams.stdout.write(helpText(command))
      return ExitCode.OK
    }
    await command.run({ values, positionals, out, env, stopSignal })
    return ExitCode.OK
  } catch (err) {
    if (err instanceof CliError) {
      out.error(err.code, err.message)
      return err.exitCode
    }
    out.error('internal', err instanceof Error ? (err.stack ?? err.message) : String(err))
    return ExitCode.FAILURE
  }
}

const stopSignal = new Promise<string>((resolve) => {
  process.once('SIGINT', () => resolve('SIGINT'))
  process.once('SIGTERM', () => resolve('SIGTERM'))
})
const code = await runCli(process.argv.slice(2), process, process.env, stopSignal)
// Let stdout drain, then exit: open handles (DHT sockets) must not keep a finished CLI alive.
process.stdout.write('', () => process.exit(code))

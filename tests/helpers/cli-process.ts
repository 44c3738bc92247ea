import { spawn } from 'node:child_process'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** The compiled CLI (this file is compiled to dist/tests/helpers/). */
export const CLI = fileURLToPath(new URL('../../cli/main.js', import.meta.url))

/** What one finished CLI run printed. */
export interface CliRun {
  code: number | null
  stdout: string
  stderr: string
  /** stdout's lines parsed as JSON (non-JSON lines skipped). */
  json: Array<Record<string, unknown>>
}

function parseLines(text: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = []
  for (const line of text.split('\n')) {
    try {
      const value: unknown = JSON.parse(line)
      if (typeof value === 'object' && value !== null) out.push(value as Record<string, unknown>)
    } catch {
      // human line
    }
  }
  return out
}

// Only what the CLI needs from the test's environment: nothing of the caller's GATEWAY_* leaks in.
function cliEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }
}

/** Runs `hypertuna-gateway <args>` to completion (killed after `timeoutMs`). */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: cliEnv(env) })
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr, json: parseLines(stdout) })
    })
  })
}

/** A long-running CLI (e.g. `expose`) whose JSON lines the test waits for. */
export interface CliChild {
  readonly child: ChildProcessWithoutNullStreams
  stdout(): string
  stderr(): string
  /** Resolves with the first JSON line (past or future) matching; rejects on timeout or exit. */
  waitFor(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/** Starts `hypertuna-gateway <args>`; the caller stops it. */
export function startCli(args: string[], env: Record<string, string> = {}): CliChild {
  const child = spawn(process.execPath, [CLI, ...args], { env: cliEnv(env) })
  let out = ''
  let err = ''
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve))
  const listeners = new Set<() => void>()
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString()
    for (const l of [...listeners]) l()
  })
  child.stderr.on('data', (c: Buffer) => (err += c.toString()))
  child.on('error', () => undefined)
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitFor(predicate, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = parseLines(out).find(predicate)
          if (found === undefined) return
          done()
          resolve(found)
        }
        const timer = setTimeout(() => {
          done()
          reject(new Error(`no matching CLI line within ${timeoutMs} ms:\n${out}\n${err}`))
        }, timeoutMs)
        const onExit = () => {
          check()
          done()
          reject(new Error(`CLI exited before a matching line:\n${out}\n${err}`))
        }
        const done = () => {
          clearTimeout(timer)
          listeners.delete(check)
          child.off('close', onExit)
        }
        listeners.add(check)
        child.once('close', onExit)
        check()
      })
    },
    async stop(signal = 'SIGINT') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      const code = await exited
      clearTimeout(timer)
      return code
    },
  }
}

/** The @nostr-relay/core relay process (tests/helpers/core-relay-process.ts). */
export interface CoreRelay {
  url: string
  stop(): Promise<void>
}

export async function startCoreRelay(): Promise<CoreRelay> {
  const script = fileURLToPath(new URL('./core-relay-process.js', import.meta.url))
  const child = spawn(process.execPath, [script], { env: cliEnv({}) })
  child.on('error', () => undefined)
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString()
      const match = /port (\d+)/.exec(out)
      if (match !== null) resolve(Number(match[1]))
    })
    child.once('close', (code) => reject(new Error(`relay exited (${code}) before listening`)))
  })
  return {
    url: `ws://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM')
      await exited
    },
  }
}

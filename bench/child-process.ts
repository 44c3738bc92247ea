import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'

/** A Node child process of the bench: its JSON log lines, its IPC channel, a bounded stop. */
export interface BenchChild {
  readonly name: string
  readonly pid: number
  readonly child: ChildProcess
  readonly exited: Promise<number | null>
  /** Resolves with the first stdout line (parsed JSON) matching `pred`; rejects if the child exits first. */
  waitForLine(
    pred: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>
  /** Resolves with the next IPC message matching `pred`. */
  waitForMessage<T>(pred: (m: unknown) => m is T, timeoutMs?: number): Promise<T>
  send(message: unknown): void
  /** Sends `signal`, then SIGKILL if the child is still there after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>
}

export interface SpawnOptions {
  name: string
  /** Compiled entry point, as a file URL or path. */
  entry: string
  nodeArgs?: string[]
  env: Record<string, string>
}

const live = new Set<ChildProcess>()

// Whatever way the bench ends, no child outlives it: `exit` runs on normal exit and after an
// uncaught error, and the signal handlers turn Ctrl-C into a normal exit. The children also
// watch their IPC channel (bench/child-hooks.ts, bench/backend-process.ts) in case the bench is
// SIGKILLed, which runs none of this.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\nbench: ${signal}, stopping children\n`)
    process.exit(130)
  })
}

export function spawnChild(opts: SpawnOptions): BenchChild {
  const entry = opts.entry.startsWith('file:') ? new URL(opts.entry).pathname : opts.entry
  const args = [...(opts.nodeArgs ?? []), entry]
  const stdio: ['ignore', 'pipe', 'pipe', 'ipc'] = ['ignore', 'pipe', 'pipe', 'ipc']
  // A clean environment: nothing of the caller's GATEWAY_* settings may leak in.
  const env = { PATH: process.env.PATH ?? '', ...opts.env }
  const child = spawn(process.execPath, args, { env, stdio })
  if (child.pid === undefined) throw new Error(`${opts.name}: spawn failed`)
  const pid = child.pid
  live.add(child)
  child.on('error', () => {})
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    // Only the tail matters, for the message when a child dies early.
    stderr = (stderr + d.toString()).slice(-4000)
  })
  const lines: Array<Record<string, unknown>> = []
  const lineWaiters = new Set<(line: Record<string, unknown>) => void>()
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
    let line: Record<string, unknown>
    try {
      line = JSON.parse(text) as Record<string, unknown>
    } catch {
      line = { msg: text }
    }
    // Keep a bounded history: a long-running child logs a little per peer event.
    if (lines.push(line) > 500) lines.shift()
    for (const w of [...lineWaiters]) w(line)
  })
  const messageWaiters = new Set<(m: unknown) => void>()
  child.on('message', (m: unknown) => {
    for (const w of [...messageWaiters]) w(m)
  })
  const exited = once(child, 'exit').then(([code]) => {
    live.delete(child)
    return code as number | null
  })
  const died = (): Error => new Error(`${opts.name} exited early: ${stderr.trim().slice(-1500)}`)

  function withTimeout<T>(
    what: string,
    timeoutMs: number,
    run: (done: (v: T) => void) => () => void,
  ) {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`${opts.name}: timed out after ${timeoutMs} ms waiting for ${what}`))
      }, timeoutMs)
      const unsubscribe = run((v) => {
        cleanup()
        resolve(v)
      })
      void exited.then(() => {
        cleanup()
        reject(died())
      })
      function cleanup() {
        clearTimeout(timer)
        unsubscribe()
      }
    })
  }

  return {
    name: opts.name,
    pid,
    child,
    exited,
    waitForLine(pred, timeoutMs = 30_000) {
      const hit = lines.find(pred)
      if (hit !== undefined) return Promise.resolve(hit)
      return withTimeout('a log line', timeoutMs, (done) => {
        const w = (line: Record<string, unknown>) => {
          if (pred(line)) done(line)
        }
        lineWaiters.add(w)
        return () => lineWaiters.delete(w)
      })
    },
    waitForMessage<T>(pred: (m: unknown) => m is T, timeoutMs = 30_000) {
      return withTimeout<T>('an IPC message', timeoutMs, (done) => {
        const w = (m: unknown) => {
          if (pred(m)) done(m)
        }
        messageWaiters.add(w)
        return () => messageWaiters.delete(w)
      })
    },
    send(message) {
      if (child.connected) child.send(message as object)
    },
    async stop(signal = 'SIGTERM', graceMs = 5_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited
      child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      const code = await exited
      clearTimeout(timer)
      return code
    },
  }
}

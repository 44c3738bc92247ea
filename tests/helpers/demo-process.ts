import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const DEMO = fileURLToPath(new URL('../../scripts/demo.js', import.meta.url))

/** `npm run demo` (dist/scripts/demo.js) as a child process, its stdout read line by line. */
export interface DemoProcess {
  readonly child: ChildProcess
  /** Resolves with the exit code and signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Every stdout line so far. */
  lines(): string[]
  stderr(): string
  /**
   * Resolves with the match of the first stdout line (past or future) matching `pattern`;
   * rejects if the demo exits first.
   */
  waitForLine(pattern: RegExp): Promise<RegExpExecArray>
}

const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

/** Starts the demo with only PATH and `env` in its environment. */
export function spawnDemo(env: Record<string, string> = {}): DemoProcess {
  const child = spawn(process.execPath, [DEMO], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  live.add(child)
  const lines: string[] = []
  const waiters = new Set<{ pattern: RegExp; resolve: (m: RegExpExecArray) => void }>()
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    lines.push(line)
    for (const waiter of waiters) {
      const match = waiter.pattern.exec(line)
      if (match === null) continue
      waiters.delete(waiter)
      waiter.resolve(match)
    }
  })
  // 'close', not 'exit': it comes after the last stdout line has been read.
  const exited = once(child, 'close').then(([code, signal]) => {
    live.delete(child)
    return { code: code as number | null, signal: signal as NodeJS.Signals | null }
  })
  return {
    child,
    exited,
    lines: () => [...lines],
    stderr: () => stderr,
    waitForLine(pattern) {
      for (const line of lines) {
        const match = pattern.exec(line)
        if (match !== null) return Promise.resolve(match)
      }
      return new Promise((resolve, reject) => {
        const waiter = { pattern, resolve }
        waiters.add(waiter)
        void exited.then(({ code, signal }) => {
          if (!waiters.delete(waiter)) return
          reject(
            new Error(
              `demo exited (${signal ?? code}) before printing ${pattern}:\n` +
                `${lines.join('\n')}\n${stderr}`,
            ),
          )
        })
      })
    },
  }
}

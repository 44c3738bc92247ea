import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'

/** A node child process that said it is ready by printing its first stdout line. */
export interface FirstLineChild {
  child: ChildProcess
  firstLine: string
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>
  kill(signal: NodeJS.Signals): Promise<number | null>
}

// Children a test run leaves behind (a failed test, a crash) die with it.
const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

/**
 * Runs `main` under this node with `env` (plus PATH only) and waits for its first stdout line;
 * rejects with its stderr if it exits first. `what` names it in that error.
 */
export async function spawnFirstLineChild(
  main: URL,
  env: Record<string, string>,
  what: string,
): Promise<FirstLineChild> {
  const child = spawn(process.execPath, [main.pathname], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  live.add(child)
  const exited = once(child, 'exit').then(([code]) => {
    live.delete(child)
    return code as number | null
  })
  let stderr = ''
  // Only the tail is kept: enough to say why a child died, bounded however long it runs.
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8_192)))
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  const firstLine = await Promise.race([
    once(lines, 'line').then(([line]) => String(line)),
    exited.then((code) => {
      throw new Error(`${what} exited (${code}) before printing its key: ${stderr}`)
    }),
  ])
  lines.close()
  // Keep draining stdout: a child that prints more would otherwise block on a full pipe.
  child.stdout?.resume()
  return {
    child,
    firstLine,
    exited,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}

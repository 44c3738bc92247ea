import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import type { BootstrapNode } from '../../shared/swarm/create-swarm.js'
import { LOOPBACK } from './testnet.js'

const MAIN = new URL('../../scripts/worker.js', import.meta.url)

/** `npm run worker` as a child process on the loopback testnet. */
export interface WorkerProcess {
  child: ChildProcess
  publicKey: string
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>
  kill(signal: NodeJS.Signals): Promise<number | null>
}

const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

export async function spawnWorker(
  bootstrap: BootstrapNode[],
  env: Record<string, string> = {},
): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [MAIN.pathname], {
    env: {
      PATH: process.env.PATH ?? '',
      GATEWAY_HYPERSWARM_BOOTSTRAP: bootstrap.map((n) => `${n.host}:${n.port}`).join(','),
      GATEWAY_HYPERSWARM_HOST: LOOPBACK,
      GATEWAY_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  live.add(child)
  const exited = once(child, 'exit').then(([code]) => {
    live.delete(child)
    return code as number | null
  })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  const first = await Promise.race([
    once(lines, 'line').then(([line]) => String(line)),
    exited.then((code) => {
      throw new Error(`worker exited (${code}) before printing its key: ${stderr}`)
    }),
  ])
  lines.close()
  if (!/^[0-9a-f]{64}$/.test(first)) throw new Error(`unexpected first line: ${first}`)
  return {
    child,
    publicKey: first,
    exited,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}

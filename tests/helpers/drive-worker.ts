import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import type { BootstrapNode } from '../../shared/swarm/create-swarm.js'

const MAIN = new URL('./drive-worker-main.js', import.meta.url)

/**
 * A tunnel-mode worker process serving `/drive/<relayKey>/<file>` from a directory, and with
 * `ws` the relay's WebSocket too.
 */
export interface DriveWorker {
  child: ChildProcess
  publicKey: string
  relayKey: string
  exited: Promise<number | null>
  kill(signal: NodeJS.Signals): Promise<number | null>
}

const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

export async function spawnDriveWorker(
  bootstrap: readonly BootstrapNode[],
  dir: string,
  relayKey?: string,
  opts: { ws?: boolean } = {},
): Promise<DriveWorker> {
  const child = spawn(process.execPath, [MAIN.pathname], {
    env: {
      PATH: process.env.PATH ?? '',
      DRIVE_WORKER_DIR: dir,
      DRIVE_WORKER_BOOTSTRAP: bootstrap.map((n) => `${n.host}:${n.port}`).join(','),
      ...(relayKey === undefined ? {} : { DRIVE_WORKER_RELAY_KEY: relayKey }),
      ...(opts.ws === true ? { DRIVE_WORKER_WS: '1' } : {}),
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
      throw new Error(`drive worker exited (${code}) before printing its key: ${stderr}`)
    }),
  ])
  lines.close()
  const [publicKey, key] = first.split(' ')
  if (!/^[0-9a-f]{64}$/.test(publicKey ?? '') || !/^[0-9a-f]{64}$/.test(key ?? '')) {
    throw new Error(`unexpected first line: ${first}`)
  }
  return {
    child,
    publicKey: publicKey as string,
    relayKey: key as string,
    exited,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}

import { randomBytes } from 'node:crypto'
import type { ProxyLimits } from '../../proxy/proxy-server.js'
import { startProxyStack } from './proxy-stack.js'
import type { ProxyStack } from './proxy-stack.js'
import type { LocalTestnet } from './testnet.js'
import { spawnWorker } from './worker-process.js'
import type { WorkerProcess } from './worker-process.js'

/** One relay served by several `npm run worker` processes, registered with a proxy. */
export interface ReplicatedRelay {
  readonly relayKey: string
  readonly workers: readonly WorkerProcess[]
  readonly stack: ProxyStack
  /** Closes the proxy, then SIGKILLs every worker. */
  close(): Promise<void>
}

/**
 * Spawns `workers` (default 2) worker processes for one fresh relay key, starts a proxy with
 * `limits` and registers the relay with all of them. What started is stopped if a step fails.
 */
export async function startReplicatedRelay(
  testnet: LocalTestnet,
  opts: { workers?: number; limits?: Partial<ProxyLimits> } = {},
): Promise<ReplicatedRelay> {
  const relayKey = randomBytes(32).toString('hex')
  const workers: WorkerProcess[] = []
  let stack: ProxyStack | undefined
  const close = async (): Promise<void> => {
    await stack?.close()
    for (const w of workers) await w.kill('SIGKILL')
  }
  try {
    for (let i = 0; i < (opts.workers ?? 2); i++) {
      workers.push(await spawnWorker(testnet.bootstrap, { WORKER_RELAY_KEY: relayKey }))
    }
    stack = await startProxyStack(testnet, opts.limits === undefined ? {} : { limits: opts.limits })
    await stack.register(
      relayKey,
      workers.map((w) => w.publicKey),
    )
    return { relayKey, workers, stack, close }
  } catch (err) {
    await close()
    throw err
  }
}

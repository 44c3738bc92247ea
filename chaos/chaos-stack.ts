import { randomBytes } from 'node:crypto'
import { spawnChild } from '../bench/child-process.js'
import type { BenchChild } from '../bench/child-process.js'
import { startGateway } from '../bench/gateway-process.js'
import type { BenchGateway } from '../bench/gateway-process.js'
import { bootstrapEnv } from '../bench/testnet.js'
import type { BenchTestnet } from '../bench/testnet.js'

const WORKER_ENTRY = new URL('./worker-child.js', import.meta.url).href

// The load would otherwise measure the per-token rate limiter and the session caps.
export const LOAD_ENV = {
  GATEWAY_PROXY_MESSAGES_PER_SECOND: '100000',
  GATEWAY_PROXY_MAX_SESSIONS_PER_TOKEN: '2000',
  GATEWAY_PROXY_MAX_SESSIONS_PER_IP: '2000',
}

/** A worker child process serving one relay. */
export interface ChaosWorker {
  readonly child: BenchChild
  readonly publicKey: string
  /** Open gateway channels and client connections (sessions' connectionKeys) it holds. */
  status(): Promise<WorkerStatus>
}

export interface WorkerStatus {
  channels: number
  connections: number
}

const isStatus = (m: unknown): m is WorkerStatus & { type: 'status' } =>
  (m as { type?: unknown } | null)?.type === 'status'

export async function startWorker(testnet: BenchTestnet, relayKey: string): Promise<ChaosWorker> {
  const child = spawnChild({
    name: 'worker',
    entry: WORKER_ENTRY,
    env: { CHAOS_BOOTSTRAP: bootstrapEnv(testnet.bootstrap), CHAOS_RELAY_KEY: relayKey },
  })
  const line = await child.waitForLine((l) => l.msg === 'worker ready', 60_000)
  return {
    child,
    publicKey: line.publicKey as string,
    async status() {
      const reply = child.waitForMessage(isStatus, 5_000)
      child.send({ type: 'status' })
      const { channels, connections } = await reply
      return { channels, connections }
    },
  }
}

/** A relay served by `count` worker processes, registered through the gateway's registrar. */
export interface ChaosRelay {
  readonly relayKey: string
  readonly workers: ChaosWorker[]
  /** A fresh session URL with its own token. */
  url(): string
  stop(): Promise<void>
}

export async function startRelay(
  testnet: BenchTestnet,
  gateway: BenchGateway,
  count: number,
): Promise<ChaosRelay> {
  const relayKey = randomBytes(32).toString('hex')
  const workers = await Promise.all(
    Array.from({ length: count }, () => startWorker(testnet, relayKey)),
  )
  await gateway.register(
    relayKey,
    workers.map((w) => w.publicKey),
  )
  let n = 0
  return {
    relayKey,
    workers,
    url: () => gateway.wsUrl(relayKey, gateway.token(relayKey, n++)),
    async stop() {
      await Promise.all(
        workers.map((w) => {
          // A stopped process cannot act on SIGTERM: let it run first.
          if (w.child.child.exitCode === null) w.child.child.kill('SIGCONT')
          return w.child.stop('SIGTERM', 3_000)
        }),
      )
    },
  }
}

/** `npm start` (registrar + proxy) with the load limits lifted. */
export function startChaosGateway(
  testnet: BenchTestnet,
  env: Record<string, string> = {},
): Promise<BenchGateway> {
  return startGateway({ bootstrap: testnet.bootstrap, env: { ...LOAD_ENV, ...env } })
}

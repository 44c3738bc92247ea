import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { ExampleRelay } from '../../shared/worker/example-relay.js'
import type { ExampleRelayOptions } from '../../shared/worker/example-relay.js'
import { RelayHost } from '../../shared/worker/relay-host.js'
import type { RelayHostOptions } from '../../shared/worker/relay-host.js'
import type { LocalTestnet } from './testnet.js'

/** An in-process worker: RelayHost + ExampleRelay on the loopback testnet. */
export interface TestWorker {
  host: RelayHost
  relay: ExampleRelay
  relayKey: string
  publicKey: string
  close(): Promise<void>
}

export async function startWorker(
  testnet: LocalTestnet,
  opts: {
    push?: boolean
    relayKey?: string
    seed?: Buffer
    relayOptions?: ExampleRelayOptions
  } & Partial<RelayHostOptions> = {},
): Promise<TestWorker> {
  const { push, relayKey = randomBytes(32).toString('hex'), seed, relayOptions, ...rest } = opts
  const swarm = testnet.createSwarm(seed === undefined ? {} : { seed })
  const relay = new ExampleRelay(relayOptions)
  const host = new RelayHost({
    swarm,
    logger: pino({ level: 'silent' }),
    relays: [{ relayKey, backend: relay }],
    push: push ?? true,
    ...rest,
  })
  await host.start()
  return {
    host,
    relay,
    relayKey,
    publicKey: host.publicKey,
    async close() {
      await host.close()
      relay.close()
      await swarm.destroy()
    },
  }
}

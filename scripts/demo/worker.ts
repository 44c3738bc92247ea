import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import type { BootstrapNode } from '../../shared/swarm/create-swarm.js'
import { createSwarm } from '../../shared/swarm/create-swarm.js'
import { ExampleRelay } from '../../shared/worker/example-relay.js'
import type { FileResponse } from '../../shared/worker/relay-backend.js'
import { RelayHost } from '../../shared/worker/relay-host.js'
import { LOOPBACK } from './loopback-testnet.js'

/** The one file the demo relay serves under /drive/<relayKey>/. */
export const DRIVE_FILE = 'hello.txt'
export const DRIVE_TEXT = 'Hello from a Hypertuna worker, fetched through the gateway.\n'

/** An example worker: RelayHost + in-memory NIP-01 relay, on the loopback testnet. */
export interface DemoWorker {
  readonly relayKey: string
  /** The worker's swarm key: what the registration lists in `peers`. */
  readonly publicKey: string
  stop(): Promise<void>
}

/** Starts the worker and resolves once it is announced on the testnet. */
export async function startDemoWorker(options: {
  bootstrap: readonly BootstrapNode[]
  logger: Logger
}): Promise<DemoWorker> {
  const relayKey = randomBytes(32).toString('hex')
  const swarm = createSwarm({ bootstrap: options.bootstrap, host: LOOPBACK })
  const relay = new ExampleRelay()
  const drive = Buffer.from(DRIVE_TEXT)
  const host = new RelayHost({
    swarm,
    logger: options.logger.child({ component: 'worker' }),
    relays: [
      {
        relayKey,
        backend: relay,
        info: () => ({
          name: 'Hypertuna demo relay',
          description: 'An in-memory example relay behind the demo gateway',
          supported_nips: [1, 11],
        }),
        file: (name): FileResponse | null =>
          name === DRIVE_FILE
            ? { statusCode: 200, headers: { 'content-type': 'text/plain' }, body: drive }
            : null,
      },
    ],
  })
  const stop = async (): Promise<void> => {
    await host.close()
    relay.close()
    await swarm.destroy()
  }
  try {
    await host.start()
  } catch (err) {
    await stop().catch(() => undefined)
    throw err
  }
  return { relayKey, publicKey: host.publicKey, stop }
}

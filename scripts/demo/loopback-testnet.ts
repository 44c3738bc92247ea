import createTestnet from 'hyperdht/testnet.js'
import type { Testnet } from 'hyperdht/testnet.js'
import type { BootstrapNode } from '../../shared/swarm/create-swarm.js'

/** The only address the demo binds: nothing it starts is reachable from another machine. */
export const LOOPBACK = '127.0.0.1'

// Ten nodes, as hyperdht's own tests use: with fewer, a fresh node samples too few NAT
// observations and its first holepunch can fail.
const NODES = 10

/** A private HyperDHT on 127.0.0.1, so the demo never touches the public DHT. */
export interface LoopbackTestnet {
  readonly size: number
  readonly bootstrap: readonly BootstrapNode[]
  destroy(): Promise<void>
}

/**
 * Starts the testnet. The scripts keep their own copy of this rather than importing
 * tests/helpers/testnet.ts: a script must not depend on the test tree.
 */
export async function startLoopbackTestnet(): Promise<LoopbackTestnet> {
  const testnet: Testnet = await createTestnet(NODES, { host: LOOPBACK })
  const bootstrap = testnet.bootstrap.map((n) => ({ host: n.host, port: n.port }))
  if (bootstrap.some((node) => node.host !== LOOPBACK)) {
    await testnet.destroy()
    throw new Error('the DHT testnet is not on 127.0.0.1')
  }
  return { size: NODES, bootstrap, destroy: () => testnet.destroy() }
}

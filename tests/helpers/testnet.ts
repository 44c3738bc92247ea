import createTestnet from 'hyperdht/testnet.js'
import type { Testnet } from 'hyperdht/testnet.js'
import type Hyperswarm from 'hyperswarm'
import { createSwarm } from '../../shared/swarm/create-swarm.js'
import type { BootstrapNode, CreateSwarmOptions } from '../../shared/swarm/create-swarm.js'

/** Loopback only: see DEVELOPERS.md. Nothing here may bind or announce elsewhere. */
export const LOOPBACK = '127.0.0.1'

/** A private HyperDHT testnet on 127.0.0.1 and a factory for swarms on it. */
export interface LocalTestnet {
  bootstrap: BootstrapNode[]
  /** A Hyperswarm on this testnet, bound to loopback; destroyed with the testnet. */
  createSwarm(opts?: Omit<CreateSwarmOptions, 'bootstrap' | 'host'>): Hyperswarm
  destroy(): Promise<void>
}

// Ten nodes, as hyperdht's own tests use: with fewer, a fresh node in another
// process samples too few NAT observations and its first holepunch can fail.
export async function startTestnet(size = 10): Promise<LocalTestnet> {
  const testnet: Testnet = await createTestnet(size, { host: LOOPBACK })
  const bootstrap = testnet.bootstrap.map((n) => ({ host: n.host, port: n.port }))
  for (const node of bootstrap) {
    if (node.host !== LOOPBACK) throw new Error(`testnet bootstrap not on loopback: ${node.host}`)
  }
  const swarms = new Set<Hyperswarm>()
  let destroyed = false
  return {
    bootstrap,
    createSwarm(opts = {}) {
      const swarm = createSwarm({ ...opts, bootstrap, host: LOOPBACK })
      swarms.add(swarm)
      return swarm
    },
    async destroy() {
      if (destroyed) return
      destroyed = true
      await Promise.all([...swarms].map((s) => s.destroy()))
      await testnet.destroy()
    },
  }
}

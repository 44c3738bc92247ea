import createTestnet from 'hyperdht/testnet.js'
import type { BootstrapNode } from '../shared/swarm/create-swarm.js'

/** Everything the bench binds or announces stays on this address. */
export const LOOPBACK = '127.0.0.1'

/** A private HyperDHT testnet on 127.0.0.1; the bench's processes bootstrap from it. */
export interface BenchTestnet {
  bootstrap: BootstrapNode[]
  destroy(): Promise<void>
}

// Ten nodes, as tests/helpers/testnet.ts uses: with fewer, a fresh node in another process
// samples too few NAT observations and its first holepunch can fail. The bench creates no swarm
// of its own (workers and proxies are child processes), so only the bootstrap list is needed.
export async function startTestnet(size = 10): Promise<BenchTestnet> {
  const testnet = await createTestnet(size, { host: LOOPBACK })
  const bootstrap = testnet.bootstrap.map((n) => ({ host: n.host, port: n.port }))
  for (const node of bootstrap) {
    if (node.host !== LOOPBACK) throw new Error(`testnet bootstrap not on loopback: ${node.host}`)
  }
  let destroyed = false
  return {
    bootstrap,
    async destroy() {
      if (destroyed) return
      destroyed = true
      await testnet.destroy()
    },
  }
}

/** `host:port,...`, the form GATEWAY_HYPERSWARM_BOOTSTRAP takes. */
export function bootstrapEnv(bootstrap: readonly BootstrapNode[]): string {
  return bootstrap.map((n) => `${n.host}:${n.port}`).join(',')
}

/** Parses {@link bootstrapEnv} back, refusing anything not on loopback. */
export function parseBootstrap(text: string): BootstrapNode[] {
  const nodes = text
    .split(',')
    .filter(Boolean)
    .map((pair) => {
      const at = pair.lastIndexOf(':')
      return { host: pair.slice(0, at), port: Number(pair.slice(at + 1)) }
    })
  if (nodes.length === 0) throw new Error('no bootstrap nodes given')
  for (const node of nodes) {
    if (node.host !== LOOPBACK || !Number.isInteger(node.port)) {
      throw new Error(`bootstrap node not on loopback: ${node.host}:${node.port}`)
    }
  }
  return nodes
}

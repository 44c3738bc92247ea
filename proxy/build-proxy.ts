import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { GatewayConfig } from '../shared/config/gateway-config.js'
import type { GatewayStore } from '../shared/store/gateway-store.js'
import { swarmOptions } from '../shared/swarm/create-swarm.js'
import { PeerPool } from '../shared/swarm/peer-pool.js'
import { ReachableNode } from '../shared/swarm/reachability-node.js'
import { peerPoolOptions, proxyServerOptions } from './proxy-options.js'
import { ProxyReporter } from './proxy-reporter.js'
import { ProxyServer } from './proxy-server.js'

/** A proxy with its own swarm and pool, as an entry point runs it. */
export interface BuiltProxy {
  proxy: ProxyServer
  pool: PeerPool
  node: ReachableNode
  start(): Promise<{ url: string; gatewayKey: string }>
  /** Closes proxy, pool and swarm, in that order (not the borrowed store). */
  close(): Promise<void>
}

/** Wires swarm, pool and proxy server from the config; the store, logger and registry are borrowed. */
export function buildProxy(
  config: GatewayConfig,
  deps: { store: GatewayStore; logger: Logger; registry: Registry },
): BuiltProxy {
  const hs = config.hyperswarm
  const node = new ReachableNode({
    swarm: swarmOptions(hs),
    relaySeed: hs.seed,
    relayServer: hs.relayServer,
    relays: hs.relays,
    logger: deps.logger.child({ component: 'swarm' }),
    registry: deps.registry,
  })
  const swarm = node.swarm
  const pool = new PeerPool({
    swarm,
    logger: deps.logger.child({ component: 'pool' }),
    registry: deps.registry,
    ...peerPoolOptions(config),
    // Retry a failed punch through the configured relays (never the one this node offers).
    relays: node.relayKeys,
  })
  const proxy = new ProxyServer({
    ...proxyServerOptions(config),
    ...deps,
    pool,
    readyDetails: () => node.details(),
  })
  const reporter = new ProxyReporter({ pool, sessions: proxy.sessions, ...deps })
  return {
    proxy,
    pool,
    node,
    async start() {
      await node.start()
      await pool.start()
      const address = await proxy.listen()
      reporter.start()
      return { url: `http://${address.address}:${address.port}`, gatewayKey: pool.publicKey }
    },
    async close() {
      reporter.close()
      await proxy.close()
      await pool.close()
      await node.close()
    },
  }
}

import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { GatewayConfig } from '../shared/config/gateway-config.js'
import type { GatewayStore } from '../shared/store/gateway-store.js'
import { createSwarm, swarmOptions } from '../shared/swarm/create-swarm.js'
import { PeerPool } from '../shared/swarm/peer-pool.js'
import { peerPoolOptions, proxyServerOptions } from './proxy-options.js'
import { ProxyReporter } from './proxy-reporter.js'
import { ProxyServer } from './proxy-server.js'

/** A proxy with its own swarm and pool, as an entry point runs it. */
export interface BuiltProxy {
  proxy: ProxyServer
  pool: PeerPool
  start(): Promise<{ url: string; gatewayKey: string }>
  /** Closes proxy, pool and swarm, in that order (not the borrowed store). */
  close(): Promise<void>
}

/** Wires swarm, pool and proxy server from the config; the store, logger and registry are borrowed. */
export function buildProxy(
  config: GatewayConfig,
  deps: { store: GatewayStore; logger: Logger; registry: Registry },
): BuiltProxy {
  const swarm = createSwarm(swarmOptions(config.hyperswarm))
  const pool = new PeerPool({
    swarm,
    logger: deps.logger.child({ component: 'pool' }),
    registry: deps.registry,
    ...peerPoolOptions(config),
  })
  const proxy = new ProxyServer({ ...proxyServerOptions(config), ...deps, pool })
  const reporter = new ProxyReporter({ pool, sessions: proxy.sessions, ...deps })
  return {
    proxy,
    pool,
    async start() {
      await pool.start()
      const address = await proxy.listen()
      reporter.start()
      return { url: `http://${address.address}:${address.port}`, gatewayKey: pool.publicKey }
    },
    async close() {
      reporter.close()
      await proxy.close()
      await pool.close()
      await swarm.destroy()
    },
  }
}

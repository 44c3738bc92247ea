import type { Logger } from 'pino'
import { loadConfig } from '../../shared/config/load-config.js'
import { createMetricsRegistry } from '../../shared/metrics/create-metrics-registry.js'
import { createStore } from '../../shared/store/create-store.js'
import type { BootstrapNode } from '../../shared/swarm/create-swarm.js'
import { createSwarm, swarmOptions } from '../../shared/swarm/create-swarm.js'
import { PeerPool } from '../../shared/swarm/peer-pool.js'
import { peerPoolOptions, proxyServerOptions } from '../../proxy/proxy-options.js'
import { ProxyServer } from '../../proxy/proxy-server.js'
import { createRateLimiter } from '../../registrar/create-rate-limiter.js'
import { RegistrarServer, registrarServerOptions } from '../../registrar/registrar-server.js'
import { LOOPBACK } from './loopback-testnet.js'

/** Options of {@link startGateway}. */
export interface DemoGatewayOptions {
  bootstrap: readonly BootstrapNode[]
  secret: string
  logger: Logger
}

/** Registrar and proxy in this process, on 127.0.0.1 ports the OS picked. */
export interface DemoGateway {
  readonly registrarUrl: string
  readonly registrarPort: number
  readonly proxyPort: number
  /** Stops what started, in reverse order. Idempotent. */
  stop(): Promise<void>
}

/**
 * What `npm start` runs (scripts/start.ts), with settings that keep it on loopback. The
 * configuration goes through loadConfig, so every other setting has its documented default; the
 * caller's GATEWAY_* variables are deliberately not read (a bootstrap there would reach the
 * public DHT).
 */
export async function startGateway(options: DemoGatewayOptions): Promise<DemoGateway> {
  const config = loadConfig({
    env: {
      GATEWAY_REGISTRATION_SECRET: options.secret,
      GATEWAY_PROXY_HOST: LOOPBACK,
      GATEWAY_PROXY_PORT: '0',
      GATEWAY_REGISTRAR_HOST: LOOPBACK,
      GATEWAY_REGISTRAR_PORT: '0',
      GATEWAY_HYPERSWARM_BOOTSTRAP: options.bootstrap.map((n) => `${n.host}:${n.port}`).join(','),
      GATEWAY_HYPERSWARM_HOST: LOOPBACK,
    },
  })
  const { logger } = options
  const registry = createMetricsRegistry()
  const { redisUrl, redisPrefix } = config.registration
  const store = createStore({ redisUrl, redisPrefix, logger })
  const rateLimit = createRateLimiter({
    pointsPerMinute: config.registrar.rateLimitPerMinute,
    redisUrl,
    redisPrefix,
    logger,
  })
  const registrar = new RegistrarServer(registrarServerOptions(config), {
    logger: logger.child({ component: 'registrar' }),
    registry,
    store,
    rateLimiter: rateLimit.limiter,
  })
  const swarm = createSwarm(swarmOptions(config.hyperswarm))
  const pool = new PeerPool({
    swarm,
    logger: logger.child({ component: 'pool' }),
    registry,
    ...peerPoolOptions(config),
  })
  const proxy = new ProxyServer({ ...proxyServerOptions(config), store, pool, logger, registry })

  let stopping: Promise<void> | null = null
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await proxy.close()
      await pool.close()
      await swarm.destroy()
      await registrar.close()
      await rateLimit.close()
      await store.close()
    })()
    return stopping
  }
  try {
    const api = await registrar.listen()
    await pool.start()
    const edge = await proxy.listen()
    return {
      registrarUrl: `http://${LOOPBACK}:${api.port}`,
      registrarPort: api.port,
      proxyPort: edge.port,
      stop,
    }
  } catch (err) {
    await stop().catch(() => undefined)
    throw err
  }
}

// `npm start`: registrar and proxy in one process sharing one store (in memory
// unless GATEWAY_REGISTRATION_REDIS is set): the embedded, no-Redis default.
import type { GatewayConfig } from '../shared/config/gateway-config.js'
import { loadConfig } from '../shared/config/load-config.js'
import { createLogger } from '../shared/log/create-logger.js'
import { createMetricsRegistry } from '../shared/metrics/create-metrics-registry.js'
import { stopOnSignal } from '../shared/process/stop-on-signal.js'
import { createStore } from '../shared/store/create-store.js'
import { createSwarm, swarmOptions } from '../shared/swarm/create-swarm.js'
import { PeerPool } from '../shared/swarm/peer-pool.js'
import { peerPoolOptions, proxyServerOptions } from '../proxy/proxy-options.js'
import { ProxyServer } from '../proxy/proxy-server.js'
import { createRateLimiter } from '../registrar/create-rate-limiter.js'
import { RegistrarServer, registrarServerOptions } from '../registrar/registrar-server.js'

async function main(): Promise<void> {
  let config: GatewayConfig
  try {
    config = loadConfig({ env: process.env })
  } catch (err) {
    process.stderr.write(`gateway: ${(err as Error).message}\n`)
    process.exit(1)
  }
  const logger = createLogger({ level: config.log.level, name: 'gateway' })
  // One registry for the process; the two servers' metric names do not overlap.
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

  const stop = stopOnSignal(logger, async () => {
    await proxy.close()
    await pool.close()
    await swarm.destroy()
    await registrar.close()
    await rateLimit.close()
    await store.close()
  })
  try {
    const api = await registrar.listen()
    await pool.start()
    const edge = await proxy.listen()
    logger.info(
      {
        registrar: api.url,
        proxy: `http://${edge.address}:${edge.port}`,
        gatewayKey: pool.publicKey,
      },
      'gateway running (registrar + proxy in one process)',
    )
  } catch (err) {
    logger.fatal({ err }, 'gateway could not start')
    await stop('startup-failure').catch(() => undefined)
    process.exit(1)
  }
}

void main()

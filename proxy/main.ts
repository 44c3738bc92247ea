// `npm run proxy`: the client-facing proxy process.
import type { GatewayConfig } from '../shared/config/gateway-config.js'
import { loadConfig } from '../shared/config/load-config.js'
import { createLogger } from '../shared/log/create-logger.js'
import { createMetricsRegistry } from '../shared/metrics/create-metrics-registry.js'
import { createStore } from '../shared/store/create-store.js'
import { createSwarm, swarmOptions } from '../shared/swarm/create-swarm.js'
import { PeerPool } from '../shared/swarm/peer-pool.js'
import { stopOnSignal } from '../shared/process/stop-on-signal.js'
import { peerPoolOptions, proxyServerOptions } from './proxy-options.js'
import { ProxyServer } from './proxy-server.js'

async function main(): Promise<void> {
  let config: GatewayConfig
  try {
    config = loadConfig({ env: process.env })
  } catch (err) {
    process.stderr.write(`proxy: ${(err as Error).message}\n`)
    process.exit(1)
  }
  const logger = createLogger({ level: config.log.level, name: 'proxy' })
  if (config.registration.secret === '') {
    logger.warn('GATEWAY_REGISTRATION_SECRET is not set: every session will be refused with 1011')
  }
  const registry = createMetricsRegistry({ labels: { role: 'proxy' } })
  const { redisUrl, redisPrefix } = config.registration
  const store = createStore({ redisUrl, redisPrefix, logger })
  const swarm = createSwarm(swarmOptions(config.hyperswarm))
  const pool = new PeerPool({
    swarm,
    logger: logger.child({ component: 'pool' }),
    registry,
    ...peerPoolOptions(config),
  })
  const proxy = new ProxyServer({ ...proxyServerOptions(config), store, pool, logger, registry })

  // Reverse order of creation.
  const stop = stopOnSignal(logger, async () => {
    await proxy.close()
    await pool.close()
    await swarm.destroy()
    await store.close()
  })

  try {
    await pool.start()
    const address = await proxy.listen()
    logger.info(
      { gatewayKey: pool.publicKey, store: redisUrl === '' ? 'memory' : 'redis' },
      `proxy listening on http://${address.address}:${address.port}`,
    )
  } catch (err) {
    logger.fatal({ err }, 'proxy could not start')
    await stop('startup-failure').catch(() => undefined)
    process.exit(1)
  }
}

void main()

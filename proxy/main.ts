// `npm run proxy`: the client-facing proxy process.
import { createLogger } from '../shared/log/create-logger.js'
import { createMetricsRegistry } from '../shared/metrics/create-metrics-registry.js'
import { crashOnUncaught } from '../shared/process/crash-only.js'
import { loadConfigOrExit } from '../shared/process/load-config-or-exit.js'
import { stopOnSignal } from '../shared/process/stop-on-signal.js'
import { createStore } from '../shared/store/create-store.js'
import { buildProxy } from './build-proxy.js'

async function main(): Promise<void> {
  const config = loadConfigOrExit('proxy', process.env)
  const logger = createLogger({ level: config.log.level, name: 'proxy' })
  crashOnUncaught(logger)
  const { secret, multiTenant, workerSecretKey } = config.registration
  if (workerSecretKey === '' && (secret === '' || multiTenant)) {
    logger.warn(
      'neither GATEWAY_REGISTRATION_SECRET nor GATEWAY_WORKER_SECRET_KEY is usable: every session will be refused with 1011',
    )
  } else if (workerSecretKey === '') {
    logger.info(
      'GATEWAY_WORKER_SECRET_KEY is not set: relays owned by worker accounts are unknown here',
    )
  }
  const registry = createMetricsRegistry({ labels: { role: 'proxy' } })
  const { redisUrl, redisPrefix } = config.registration
  const store = createStore({ redisUrl, redisPrefix, logger })
  const built = buildProxy(config, { store, logger, registry })
  // Reverse order of creation.
  const stop = stopOnSignal(logger, async () => {
    await built.close()
    await store.close()
  })
  try {
    const { url, gatewayKey } = await built.start()
    logger.info(
      { gatewayKey, store: redisUrl === '' ? 'memory' : 'redis' },
      `proxy listening on ${url}`,
    )
  } catch (err) {
    logger.fatal({ err }, 'proxy could not start')
    await stop('startup-failure').catch(() => undefined)
    process.exit(1)
  }
}

void main()

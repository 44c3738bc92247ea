// `npm start`: registrar and proxy in one process sharing one store (in memory
// unless GATEWAY_REGISTRATION_REDIS is set): the embedded, no-Redis default.
import { buildProxy } from '../proxy/build-proxy.js'
import { buildRegistrar } from '../registrar/build-registrar.js'
import { createLogger } from '../shared/log/create-logger.js'
import { createMetricsRegistry } from '../shared/metrics/create-metrics-registry.js'
import { crashOnUncaught } from '../shared/process/crash-only.js'
import { loadConfigOrExit } from '../shared/process/load-config-or-exit.js'
import { stopOnSignal } from '../shared/process/stop-on-signal.js'
import { createStore } from '../shared/store/create-store.js'

async function main(): Promise<void> {
  const config = loadConfigOrExit('gateway', process.env)
  const logger = createLogger({ level: config.log.level, name: 'gateway' })
  crashOnUncaught(logger)
  // One registry for the process; the two servers' metric names do not overlap.
  const registry = createMetricsRegistry()
  const { redisUrl, redisPrefix } = config.registration
  const store = createStore({ redisUrl, redisPrefix, logger })
  const registrar = buildRegistrar(config, {
    store,
    logger: logger.child({ component: 'registrar' }),
    registry,
  })
  const proxy = buildProxy(config, { store, logger, registry })
  const stop = stopOnSignal(logger, async () => {
    await proxy.close()
    await registrar.close()
    await store.close()
  })
  try {
    const api = await registrar.start()
    const edge = await proxy.start()
    logger.info({ gatewayKey: edge.gatewayKey }, `registrar listening on ${api.url}`)
    logger.info({ gatewayKey: edge.gatewayKey }, `proxy listening on ${edge.url}`)
  } catch (err) {
    logger.fatal({ err }, 'gateway could not start')
    await stop('startup-failure').catch(() => undefined)
    process.exit(1)
  }
}

void main()

// `npm run registrar`: the registration API workers call (docs/registrar.md).
import { createLogger } from '../shared/log/create-logger.js'
import { createMetricsRegistry } from '../shared/metrics/create-metrics-registry.js'
import { crashOnUncaught } from '../shared/process/crash-only.js'
import { loadConfigOrExit } from '../shared/process/load-config-or-exit.js'
import { stopOnSignal } from '../shared/process/stop-on-signal.js'
import { createStore } from '../shared/store/create-store.js'
import { buildRegistrar } from './build-registrar.js'

// A close that hangs (a wedged connection) must not keep a stopping process alive forever.
const FORCED_EXIT_MS = 15_000

async function main(): Promise<void> {
  const config = loadConfigOrExit('registrar', process.env)
  const logger = createLogger({ level: config.log.level, name: 'registrar' })
  crashOnUncaught(logger)
  const registry = createMetricsRegistry({ labels: { role: 'registrar' } })
  const { redisUrl, redisPrefix } = config.registration
  const store = createStore({ redisUrl, redisPrefix, logger })
  const built = buildRegistrar(config, { store, logger, registry })
  // Reverse order of creation: nothing may use the store after the server is gone.
  const stop = stopOnSignal(
    logger,
    async () => {
      await built.close()
      await store.close()
    },
    FORCED_EXIT_MS,
  )
  try {
    const { url } = await built.start()
    logger.info(
      { url, store: redisUrl === '' ? 'memory' : 'redis' },
      `registrar listening on ${url}`,
    )
  } catch (err) {
    logger.fatal({ err }, 'registrar could not start')
    await stop('startup-failure').catch(() => undefined)
    process.exit(1)
  }
}

void main()

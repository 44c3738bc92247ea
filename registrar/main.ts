// `npm run registrar`: the registration API workers call (docs/registrar.md).
import { loadConfig } from '../shared/config/load-config.js'
import type { GatewayConfig } from '../shared/config/gateway-config.js'
import { createLogger } from '../shared/log/create-logger.js'
import { createMetricsRegistry } from '../shared/metrics/create-metrics-registry.js'
import { createStore } from '../shared/store/create-store.js'
import { createRateLimiter } from './create-rate-limiter.js'
import { RegistrarServer, registrarServerOptions } from './registrar-server.js'

// A close that hangs (a wedged connection) must not keep a stopping process alive forever.
const FORCED_EXIT_MS = 15_000

async function main(): Promise<void> {
  let config: GatewayConfig
  try {
    config = loadConfig({ env: process.env })
  } catch (err) {
    process.stderr.write(`registrar: ${(err as Error).message}\n`)
    process.exit(1)
  }
  const logger = createLogger({ level: config.log.level, name: 'registrar' })
  const registry = createMetricsRegistry({ labels: { role: 'registrar' } })
  const { redisUrl, redisPrefix } = config.registration
  const store = createStore({ redisUrl, redisPrefix, logger })
  const rateLimit = createRateLimiter({
    pointsPerMinute: config.registrar.rateLimitPerMinute,
    redisUrl,
    redisPrefix,
    logger,
  })
  const server = new RegistrarServer(registrarServerOptions(config), {
    logger,
    registry,
    store,
    rateLimiter: rateLimit.limiter,
  })

  let stopping: Promise<void> | null = null
  const stop = (signal: string): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ signal }, 'registrar stopping')
      setTimeout(() => process.exit(1), FORCED_EXIT_MS).unref()
      // Reverse order of creation: nothing may use the store after the server is gone.
      await server.close()
      await rateLimit.close()
      await store.close()
      logger.info('registrar stopped')
    })()
    return stopping
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stop(signal).then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'registrar did not stop cleanly')
          process.exit(1)
        },
      )
    })
  }

  try {
    const address = await server.listen()
    logger.info(
      { url: address.url, store: redisUrl === '' ? 'memory' : 'redis' },
      `registrar listening on ${address.url}`,
    )
  } catch (err) {
    logger.fatal({ err }, 'registrar could not start')
    await stop('startup-failure').catch(() => undefined)
    process.exit(1)
  }
}

void main()

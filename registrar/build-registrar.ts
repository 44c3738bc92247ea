import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { GatewayConfig } from '../shared/config/gateway-config.js'
import type { GatewayStore } from '../shared/store/gateway-store.js'
import { createRateLimiter } from './create-rate-limiter.js'
import { RegistrarServer, registrarServerOptions } from './registrar-server.js'

/** A registrar with its rate limiter, as an entry point runs it. */
export interface BuiltRegistrar {
  server: RegistrarServer
  start(): Promise<{ url: string }>
  /** Closes the server, then the limiter (not the borrowed store). */
  close(): Promise<void>
}

/** Wires the registrar and its per-IP limiter from the config; store, logger and registry are borrowed. */
export function buildRegistrar(
  config: GatewayConfig,
  deps: { store: GatewayStore; logger: Logger; registry: Registry },
): BuiltRegistrar {
  const { redisUrl, redisPrefix } = config.registration
  const rateLimit = createRateLimiter({
    pointsPerMinute: config.registrar.rateLimitPerMinute,
    redisUrl,
    redisPrefix,
    logger: deps.logger,
  })
  const server = new RegistrarServer(registrarServerOptions(config), {
    ...deps,
    rateLimiter: rateLimit.limiter,
  })
  return {
    server,
    async start() {
      const address = await server.listen()
      return { url: address.url }
    },
    async close() {
      await server.close()
      await rateLimit.close()
    },
  }
}

import type { Logger } from 'pino'
import { loadConfig } from '../../shared/config/load-config.js'
import { createMetricsRegistry } from '../../shared/metrics/create-metrics-registry.js'
import { createStore } from '../../shared/store/create-store.js'
import type { BootstrapNode } from '../../shared/swarm/create-swarm.js'
import { buildProxy } from '../../proxy/build-proxy.js'
import { buildRegistrar } from '../../registrar/build-registrar.js'
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
 * What `npm start` runs (scripts/start.ts, through the same buildRegistrar/buildProxy), with
 * settings that keep it on loopback. The
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
  const registrar = buildRegistrar(config, {
    store,
    logger: logger.child({ component: 'registrar' }),
    registry,
  })
  const proxy = buildProxy(config, { store, logger, registry })

  let stopping: Promise<void> | null = null
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await proxy.close()
      await registrar.close()
      await store.close()
    })()
    return stopping
  }
  try {
    const api = new URL((await registrar.start()).url)
    const edge = new URL((await proxy.start()).url)
    return {
      registrarUrl: `http://${LOOPBACK}:${api.port}`,
      registrarPort: Number(api.port),
      proxyPort: Number(edge.port),
      stop,
    }
  } catch (err) {
    await stop().catch(() => undefined)
    throw err
  }
}

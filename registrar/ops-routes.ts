import type { FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import {
  CAPABILITIES_PATH,
  REGISTRAR_CAPABILITIES,
} from '../shared/registrar-api/registrar-capabilities.js'
import { notReadyBody, readyBody } from '../shared/health/ready-body.js'
import type { GatewayStore } from '../shared/store/gateway-store.js'
import { storeUnavailable } from './http-error.js'

/** What {@link registerOpsRoutes} needs. */
export interface OpsRoutesOptions {
  store: GatewayStore
  registry: Registry
  retryAfterSeconds: number
  /** Longest wait for the store's ping before /ready says 503. */
  readyTimeoutMs: number
}

const UNLIMITED = { config: { rateLimit: false } }

/**
 * `/health` (the process answers), `/ready` (the store answers too), `/metrics`, and the
 * capability list workers use to pick the replay-proof forms.
 */
export function registerOpsRoutes(app: FastifyInstance, options: OpsRoutesOptions): void {
  const { store, registry, retryAfterSeconds, readyTimeoutMs } = options

  app.get('/health', UNLIMITED, async () => ({ status: 'ok' }))

  // The registrar cannot do anything useful without the store: not ready while it is away.
  app.get('/ready', UNLIMITED, async (_request, reply) => {
    if (await pingWithin(store, readyTimeoutMs)) return readyBody('ok')
    const refusal = storeUnavailable(retryAfterSeconds)
    reply.code(refusal.status).headers(refusal.headers)
    return notReadyBody('unreachable', refusal.message, refusal.wireCode)
  })

  app.get('/metrics', UNLIMITED, async (_request, reply) => {
    reply.type(registry.contentType)
    return registry.metrics()
  })

  app.get(CAPABILITIES_PATH, async () => ({ version: 1, capabilities: REGISTRAR_CAPABILITIES }))
}

async function pingWithin(store: GatewayStore, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs)
  })
  try {
    return await Promise.race([store.ping().then(() => true), timeout])
  } catch {
    return false
  } finally {
    clearTimeout(timer)
  }
}

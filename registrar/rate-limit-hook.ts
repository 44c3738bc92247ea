import type { FastifyRequest } from 'fastify'
import { RateLimiterRes } from 'rate-limiter-flexible'
import { RegistrarErrorCode } from '../shared/registrar-api/registrar-error-code.js'
import { HttpError, storeUnavailable } from './http-error.js'
import type { RegistrarMetrics } from './registrar-metrics.js'

/**
 * The part of a rate-limiter-flexible limiter the registrar uses. `consume` rejects with a
 * `RateLimiterRes` when the key is over its limit and with an Error when the limiter's store
 * fails.
 */
export interface RequestRateLimiter {
  consume(key: string, points?: number): Promise<unknown>
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** False exempts a route (health, readiness, metrics) from the per-IP limit. */
    rateLimit?: boolean
  }
}

/**
 * An `onRequest` hook charging one point per request to the client IP. It runs before the
 * body is read, so oversized and malformed requests count too. `request.ip` already honours
 * X-Forwarded-For from trusted proxies only (fastify `trustProxy`).
 */
export function createRateLimitHook(
  limiter: RequestRateLimiter,
  metrics: RegistrarMetrics,
  retryAfterSeconds: number,
) {
  return async function rateLimit(request: FastifyRequest): Promise<void> {
    if (request.routeOptions.config?.rateLimit === false) return
    try {
      await limiter.consume(request.ip)
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        metrics.rateLimited.inc()
        const seconds = Math.max(1, Math.ceil(err.msBeforeNext / 1000))
        throw new HttpError(429, RegistrarErrorCode.RATE_LIMITED, 'too many requests', {
          'retry-after': String(seconds),
        })
      }
      // The limiter shares the store's backend: when it is down, so is everything else.
      request.log.warn({ err: { message: (err as Error).message } }, 'rate limiter unavailable')
      throw storeUnavailable(retryAfterSeconds)
    }
  }
}

import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible'
import { errorCode, reconnectDelay } from '../shared/store/redis-connection.js'
import type { RequestRateLimiter } from './rate-limit-hook.js'

const CONNECT_TIMEOUT_MS = 3_000
const RECONNECT = { minMs: 100, maxMs: 5_000 }

/** Options of {@link createRateLimiter}. */
export interface CreateRateLimiterOptions {
  /** Requests one client IP may make per minute. */
  pointsPerMinute: number
  /** Empty: an in-process limiter. Otherwise counters live in this Redis, shared by processes. */
  redisUrl: string
  /** Prefix of the limiter's Redis keys (the store's prefix, so one namespace holds both). */
  redisPrefix: string
  logger: Logger
}

/** A rate limiter and the connection it owns. */
export interface OwnedRateLimiter {
  limiter: RequestRateLimiter
  /** Releases the limiter's Redis connection, if any. Idempotent. */
  close(): Promise<void>
}

/**
 * The per-IP limiter of the registration API, backed by the same kind of store as the
 * registrations: Redis when several registrar processes must share one budget, memory
 * otherwise.
 */
export function createRateLimiter(options: CreateRateLimiterOptions): OwnedRateLimiter {
  const common = { points: options.pointsPerMinute, duration: 60 }
  if (options.redisUrl === '') {
    return { limiter: new RateLimiterMemory(common), close: async () => undefined }
  }
  const client = new Redis(options.redisUrl, {
    // Fail fast during an outage (the request is answered 503) rather than queueing.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: CONNECT_TIMEOUT_MS,
    commandTimeout: 2_000,
    // Back as soon as a restarting Redis listens again (see reconnectDelay).
    retryStrategy: (attempt: number) => reconnectDelay(attempt, lastCode, RECONNECT),
  })
  let lastCode: string | undefined
  client.on('ready', () => {
    lastCode = undefined
  })
  // Never log the error object: a failed AUTH carries the password.
  client.on('error', (err: Error) => {
    lastCode = errorCode(err)
    options.logger.debug({ error: err.message }, 'rate limiter redis connection error')
  })
  const limiter = new RateLimiterRedis({
    ...common,
    storeClient: client,
    keyPrefix: `${options.redisPrefix}ratelimit`,
    rejectIfRedisNotReady: true,
  })
  // Requests arriving while the very first connection is still being made wait for it (up to
  // the connect timeout) instead of failing; after that, an outage fails requests at once.
  let everReady = false
  const firstReady = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, CONNECT_TIMEOUT_MS)
    timer.unref()
    client.once('ready', () => {
      everReady = true
      clearTimeout(timer)
      resolve()
    })
  })
  let closing: Promise<void> | null = null
  return {
    limiter: {
      async consume(key: string, points?: number) {
        if (!everReady) await firstReady
        return limiter.consume(key, points)
      },
    },
    close() {
      closing ??= client.quit().then(
        () => undefined,
        () => client.disconnect(),
      )
      return closing
    },
  }
}

import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { backoffDelay } from '../retry/backoff.js'
import type { BackoffOptions } from '../retry/backoff.js'

const WARN_EVERY_MS = 10_000

/** Options of {@link RedisConnection}. */
export interface RedisConnectionOptions {
  url: string
  /** Already bound to the endpoint (never the URL) and the connection's role. */
  logger: Logger
  connectTimeoutMs: number
  commandTimeoutMs: number
  reconnect: BackoffOptions
  /**
   * Runs on every (re)connect. Default: the connection is live at once. A subscriber connection
   * instead calls {@link RedisConnection.markLive} once its SUBSCRIBE has been acknowledged.
   */
  onReady?: (connection: RedisConnection) => void
}

/**
 * One ioredis connection set up to fail fast: nothing is queued while it is down, in-flight
 * commands are rejected (never resent, so no write applies twice) when it drops, and it
 * reconnects by itself with jittered backoff. Tracks whether it is live and logs outages.
 */
export class RedisConnection {
  readonly client: Redis
  readonly #log: Logger
  readonly #connectTimeoutMs: number
  readonly #detach: Array<() => void> = []
  #live = false
  #everLive = false
  #down = false
  #closed = false
  #attempts = 0
  #warnedAt = 0
  #lastError: string | undefined
  #lastCode: string | undefined
  #firstLive: Promise<void> | null = null
  #onLive: (() => void) | null = null

  constructor(options: RedisConnectionOptions) {
    this.#log = options.logger
    this.#connectTimeoutMs = options.connectTimeoutMs
    const { reconnect } = options
    this.client = new Redis(options.url, {
      connectTimeout: options.connectTimeoutMs,
      commandTimeout: options.commandTimeoutMs,
      disconnectTimeout: 500,
      enableOfflineQueue: false,
      // 0: the in-flight queue is flushed with an error on the first close, not resent later.
      maxRetriesPerRequest: 0,
      retryStrategy: (attempt: number) => reconnectDelay(attempt, this.#lastCode, reconnect),
      // Subscriptions are renewed by onReady, which knows when they are acknowledged.
      autoResubscribe: false,
    })
    const onReady = options.onReady ?? ((connection) => connection.markLive())
    this.#on('ready', () => {
      if (!this.#closed) onReady(this)
    })
    this.#on('error', (err: unknown) => {
      this.#lastError = errorText(err)
      this.#lastCode = errorCode(err)
      this.#log.debug({ error: this.#lastError }, 'redis connection error')
    })
    this.#on('close', () => {
      this.#live = false
      if (this.#everLive) this.#down = true
    })
    // Only the endpoint and the error text are logged: never the URL (it may carry a password)
    // nor error objects (a failed handshake carries the AUTH arguments). A long outage warns on
    // the first attempt and then every WARN_EVERY_MS (refused connects retry ten times a second).
    this.#on('reconnecting', (delayMs: unknown) => {
      if (this.#closed) return
      const attempt = ++this.#attempts
      const now = Date.now()
      const loud = attempt === 1 || now - this.#warnedAt >= WARN_EVERY_MS
      if (loud) this.#warnedAt = now
      const level = loud ? 'warn' : 'debug'
      this.#log[level]({ attempt, delayMs, error: this.#lastError }, 'redis down, reconnecting')
    })
  }

  /** Live: connected, and (for a subscriber) subscribed. */
  get live(): boolean {
    return this.#live && this.client.status === 'ready'
  }

  /** Declares the current connection usable. Ignored unless it is still the ready one. */
  markLive(): void {
    if (this.#closed || this.client.status !== 'ready') return
    this.#live = true
    this.#everLive = true
    this.#attempts = 0
    this.#lastError = undefined
    this.#lastCode = undefined
    if (this.#down) {
      this.#down = false
      this.#log.info('redis connection restored')
    }
    this.#onLive?.()
  }

  /**
   * Resolves when the connection is live. Only the very first connection attempt is waited for
   * (bounded by the connect timeout), so a store works right after construction; after that,
   * or when no attempt is underway, rejects at once: callers never queue behind an outage.
   */
  usable(): Promise<void> {
    if (this.live) return Promise.resolve()
    const { status } = this.client
    if (this.#everLive || !['connecting', 'connect', 'ready'].includes(status)) {
      return Promise.reject(new Error(`redis connection is ${status}`))
    }
    this.#firstLive ??= new Promise<void>((resolve, reject) => {
      const finish = (err?: Error): void => {
        clearTimeout(timer)
        this.#onLive = null
        this.client.off('close', onClose)
        this.#firstLive = null
        if (err === undefined) resolve()
        else reject(err)
      }
      const onClose = (): void => finish(new Error('redis connection closed'))
      const timer = setTimeout(
        () => finish(new Error('redis connection not ready in time')),
        this.#connectTimeoutMs,
      )
      this.#onLive = () => finish()
      this.client.on('close', onClose)
    })
    return this.#firstLive
  }

  /** Idempotent. QUITs when connected (replies already due still arrive), else drops. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#live = false
    if (this.client.status === 'ready') {
      try {
        await this.client.quit()
      } catch {
        this.client.disconnect()
      }
    } else {
      this.client.disconnect()
    }
    for (const detach of this.#detach.splice(0)) detach()
    // A late socket error must not reach ioredis' "unhandled error" console output.
    this.client.on('error', () => {})
  }

  #on<A extends unknown[]>(event: string, fn: (...args: A) => void): void {
    const listener = fn as (...args: unknown[]) => void
    this.client.on(event, listener)
    this.#detach.push(() => this.client.off(event, listener))
  }
}

/**
 * Delay before reconnect `attempt` (1-based). A refused connect means the host answers and
 * Redis is not listening yet (restarting): retrying costs it nothing, so every `minMs`, and
 * the link is back within that of Redis, however long the outage. Anything else (timeouts,
 * unreachable host, errors after connecting) doubles up to `maxMs` with jitter.
 */
export function reconnectDelay(
  attempt: number,
  lastCode: string | undefined,
  backoff: BackoffOptions,
): number {
  return lastCode === 'ECONNREFUSED' ? backoff.minMs : backoffDelay(attempt - 1, backoff)
}

/** `host:port` of a Redis URL, for logs; null unless a redis:// or rediss:// URL with a host. */
export function redisEndpoint(url: string): string | null {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return null
  }
  if (!['redis:', 'rediss:'].includes(parsed.protocol) || !parsed.hostname) return null
  return `${parsed.hostname}:${parsed.port || '6379'}`
}

/** An error's code and message, without the rest of the object (which may carry arguments). */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const code = (err as { code?: unknown }).code
  const prefixed = typeof code === 'string' && !err.message.includes(code)
  return prefixed ? `${code}: ${err.message}` : err.message
}

/** The error's `code` (ECONNREFUSED, ...) when it has one. */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { Counter } from 'prom-client'
import type { Registry } from 'prom-client'
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible'
import type { RateLimiterAbstract } from 'rate-limiter-flexible'
import { MessageBudget } from './message-budget.js'
import { RedisSessionSlots } from './redis-session-slots.js'
import { MemorySessionSlots } from './session-slots.js'
import type { SessionSlot, SessionSlots, SlotClaim, SlotLimit } from './session-slots.js'

/** The admission limits keyed on who is sending. */
export interface SenderLimitsConfig {
  maxSessionsPerToken: number
  maxSessionsPerIp: number
  maxSessionsPerPubkey: number
  sessionOpensPerIpPerMinute: number
  /** Sustained; bursts up to twice that. */
  pubkeyMessagesPerSecond: number
  /** With Redis: how long a session slot counts without renewal. */
  sessionLeaseMs: number
}

/** Options of {@link SenderLimits}. */
export interface SenderLimitsOptions extends SenderLimitsConfig {
  /** Shared counts across proxies: a fail-fast connection (borrowed) and a key prefix. */
  redis?: { client: Redis; prefix: string } | null
  logger: Logger
  registry: Registry
}

/** Who opens a session, as far as the limits care. */
export interface Sender {
  tokenId: string
  ip: string
  /** The person a token names; null for a share link. */
  pubkey: string | null
}

/** Which sender limit refused a session (bounded label values). */
export type SenderLimit = SlotLimit | 'session_open_rate'

export type SenderAdmission = { ok: true; slot: SessionSlot } | { ok: false; limit: SenderLimit }

/**
 * The limits keyed on who is sending: concurrent sessions per token, per client IP and per
 * person (a token naming a pubkey), the rate of new sessions per IP, and one person's
 * message rate over all their sessions. With Redis every count is shared by the proxies on
 * it (sessions as leases, rates with rate-limiter-flexible); without, per process. A Redis
 * failure never refuses anyone: the process counts alone until Redis answers again.
 */
export class SenderLimits {
  readonly #o: SenderLimitsOptions
  readonly #slots: SessionSlots
  readonly #opens: RateLimiterAbstract
  readonly #messages: MessageBudget
  readonly #fallbacks: Counter<'limit'>
  #closed = false

  constructor(opts: SenderLimitsOptions) {
    this.#o = opts
    this.#fallbacks = new Counter({
      name: 'hypertuna_gateway_proxy_limit_store_fallbacks_total',
      help: 'Limit checks counted in this process alone because Redis failed, by limit',
      labelNames: ['limit'],
      registers: [opts.registry],
    })
    const memorySlots = new MemorySessionSlots()
    const redis = opts.redis ?? null
    const opens = { points: opts.sessionOpensPerIpPerMinute, duration: 60 }
    // Sustained rate with bursts of twice that: the window is two seconds.
    const messages = { points: opts.pubkeyMessagesPerSecond * 2, duration: 2 }
    if (redis === null) {
      this.#slots = memorySlots
      this.#opens = new RateLimiterMemory(opens)
      this.#messages = this.#budget(new RateLimiterMemory(messages), messages.points)
      return
    }
    this.#slots = new RedisSessionSlots({
      client: redis.client,
      prefix: `${redis.prefix}slots:`,
      leaseMs: opts.sessionLeaseMs,
      logger: opts.logger,
      fallback: memorySlots,
      onFallback: () => this.#fallbacks.inc({ limit: 'sessions' }),
    })
    this.#opens = this.#shared(redis, 'opens', opens)
    this.#messages = this.#budget(this.#shared(redis, 'messages', messages), messages.points)
  }

  /** A slot for one more session of `sender`, or the limit it would break. */
  async admit(sender: Sender): Promise<SenderAdmission> {
    try {
      await this.#opens.consume(sender.ip)
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return { ok: false, limit: 'session_open_rate' }
      throw rejection
    }
    const o = this.#o
    const claims: SlotClaim[] = [
      { limit: 'sessions_per_token', key: sender.tokenId, max: o.maxSessionsPerToken },
      { limit: 'sessions_per_ip', key: sender.ip, max: o.maxSessionsPerIp },
    ]
    if (sender.pubkey !== null) {
      claims.push({ limit: 'sessions_per_pubkey', key: sender.pubkey, max: o.maxSessionsPerPubkey })
    }
    return this.#slots.acquire(claims)
  }

  /** Synchronous: true (and counted) when this person may send one more message now. */
  allowMessage(pubkey: string): boolean {
    return this.#messages.allow(pubkey)
  }

  /** Gives back the slots still held in Redis; before the store closes. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#messages.close()
    await this.#slots.close()
  }

  #budget(limiter: RateLimiterAbstract, points: number): MessageBudget {
    return new MessageBudget({ limiter, points, durationMs: 2_000, logger: this.#o.logger })
  }

  // A Redis limiter that answers from an in-process one while Redis is unreachable.
  #shared(
    redis: { client: Redis; prefix: string },
    name: string,
    points: { points: number; duration: number },
  ): RateLimiterAbstract {
    return new RateLimiterRedis({
      ...points,
      storeClient: redis.client,
      keyPrefix: `${redis.prefix}rate:${name}`,
      rejectIfRedisNotReady: true,
      insuranceLimiter: new CountedInsurance(points, () => this.#fallbacks.inc({ limit: name })),
    })
  }
}

/** rate-limiter-flexible's in-memory insurance, counting each time it stands in for Redis. */
class CountedInsurance extends RateLimiterMemory {
  readonly #onUse: () => void

  constructor(points: { points: number; duration: number }, onUse: () => void) {
    super(points)
    this.#onUse = onUse
  }

  override consume(
    ...args: Parameters<RateLimiterMemory['consume']>
  ): ReturnType<RateLimiterMemory['consume']> {
    this.#onUse()
    return super.consume(...args)
  }
}

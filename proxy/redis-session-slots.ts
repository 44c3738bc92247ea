import { createHash, randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { errorText } from '../shared/store/redis-connection.js'
import { runScript } from '../shared/store/redis-scripts.js'
import type { RedisScript } from '../shared/store/redis-scripts.js'
import type { MemorySessionSlots, SessionSlots, SlotClaim, SlotGrant } from './session-slots.js'

/** Options of {@link RedisSessionSlots}. */
export interface RedisSessionSlotsOptions {
  /** A connection that fails fast while Redis is down (no offline queue); borrowed. */
  client: Redis
  /** Prepended to every key, e.g. `gateway:registrations:slots:`. */
  prefix: string
  /** How long a slot counts without renewal; renewed every third of it. */
  leaseMs: number
  logger: Logger
  /** Counts this process's sessions while Redis cannot be reached. */
  fallback: MemorySessionSlots
  /** Called each time a session was counted by `fallback` because Redis failed. */
  onFallback?: () => void
}

/** Keys renewed or released per script call, so one call never blocks Redis for long. */
const BATCH_KEYS = 512

function script(lua: string): RedisScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') }
}

// Server time, so proxies with skewed clocks agree on what has lapsed. replicate_commands
// lets Redis before 5 write after reading TIME; later versions always replicate effects.
const NOW = `
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

/**
 * KEYS: one sorted set per claim. ARGV: member, leaseMs, then each claim's max.
 * Returns 0 when the member now holds a place in every set, else the 1-based index of the
 * first full set (and holds nothing).
 */
const ACQUIRE = script(`${NOW}
local lease = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= tonumber(ARGV[2 + i]) then return i end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + lease, ARGV[1])
  redis.call('PEXPIRE', key, lease)
end
return 0
`)

/** KEYS: sets. ARGV: leaseMs, then the member held in each set. Re-adds lapsed members. */
const RENEW = script(`${NOW}
local lease = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + lease, ARGV[i + 1])
  redis.call('PEXPIRE', key, lease)
end
return 0
`)

/** KEYS: sets. ARGV: the member to drop from each. */
const RELEASE = script(`
for _, key in ipairs(KEYS) do redis.call('ZREM', key, ARGV[1]) end
return 0
`)

/**
 * {@link SessionSlots} shared by every proxy on one Redis, counted as leases: each session is a
 * member of one sorted set per claim, scored with the time its lease lapses. A proxy renews its
 * members every third of the lease and removes them when the session ends, so the slots of a
 * proxy that crashed are free again one lease later, and nothing is counted twice. Checking
 * and taking every claim of a session is one script, so two proxies cannot both take the last
 * place. While Redis cannot be reached, sessions are counted by this process alone.
 *
 * The scripts touch keys they are given only, but several per call: standalone or Sentinel
 * Redis, not Redis Cluster (like the store).
 */
export class RedisSessionSlots implements SessionSlots {
  readonly #o: RedisSessionSlotsOptions
  // Unique per process, so members of two proxies never collide.
  readonly #id = randomBytes(6).toString('hex')
  readonly #held = new Map<string, string[]>()
  readonly #pending = new Set<Promise<unknown>>()
  readonly #renewal: NodeJS.Timeout
  #seq = 0
  #renewing = false
  #closed = false

  constructor(opts: RedisSessionSlotsOptions) {
    this.#o = opts
    this.#renewal = setInterval(() => void this.#renew(), Math.max(1, Math.floor(opts.leaseMs / 3)))
    this.#renewal.unref()
  }

  /** Slots this process holds in Redis. */
  get held(): number {
    return this.#held.size
  }

  async acquire(claims: readonly SlotClaim[]): Promise<SlotGrant> {
    const { client, fallback } = this.#o
    if (this.#closed || client.status !== 'ready') return this.#fallback(claims)
    const member = `${this.#id}:${(this.#seq++).toString(36)}`
    const keys = claims.map((c) => `${this.#o.prefix}${c.limit}:${c.key}`)
    let full: unknown
    try {
      full = await runScript(client, ACQUIRE, keys, [
        member,
        this.#o.leaseMs,
        ...claims.map((c) => c.max),
      ])
    } catch (err) {
      this.#o.logger.warn(
        { error: errorText(err) },
        'session slots: redis failed, counting in this process',
      )
      return this.#fallback(claims)
    }
    if (typeof full === 'number' && full > 0) {
      return { ok: false, limit: (claims[full - 1] as SlotClaim).limit }
    }
    // Closed while asking: give the place straight back.
    if (this.#closed) {
      this.#track(runScript(client, RELEASE, keys, [member]))
      return fallback.acquireNow(claims)
    }
    this.#held.set(member, keys)
    let held = true
    return {
      ok: true,
      slot: {
        release: () => {
          if (!held) return
          held = false
          this.#release(member)
        },
      },
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#renewal)
    for (const member of [...this.#held.keys()]) this.#release(member)
    await Promise.allSettled([...this.#pending])
  }

  #fallback(claims: readonly SlotClaim[]): SlotGrant {
    this.#o.onFallback?.()
    return this.#o.fallback.acquireNow(claims)
  }

  #release(member: string): void {
    const keys = this.#held.get(member)
    if (keys === undefined) return
    this.#held.delete(member)
    // If this fails the lease runs out by itself.
    this.#track(runScript(this.#o.client, RELEASE, keys, [member]))
  }

  #track(call: Promise<unknown>): void {
    const p = call.then(
      () => undefined,
      (err: unknown) =>
        this.#o.logger.debug({ error: errorText(err) }, 'session slot release failed'),
    )
    this.#pending.add(p)
    void p.finally(() => this.#pending.delete(p))
  }

  async #renew(): Promise<void> {
    if (this.#renewing || this.#held.size === 0) return
    this.#renewing = true
    try {
      let keys: string[] = []
      let members: string[] = []
      const flush = async () => {
        const batch = [keys, members] as const
        keys = []
        members = []
        await runScript(this.#o.client, RENEW, batch[0], [this.#o.leaseMs, ...batch[1]])
      }
      for (const [member, held] of this.#held) {
        for (const key of held) {
          keys.push(key)
          members.push(member)
        }
        if (keys.length >= BATCH_KEYS) await flush()
      }
      if (keys.length > 0) await flush()
    } catch (err) {
      // Renewed on the next tick; a lease only lapses after three misses in a row.
      this.#o.logger.warn({ error: errorText(err) }, 'session slot renewal failed')
    } finally {
      this.#renewing = false
    }
  }
}

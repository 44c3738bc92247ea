import type { Logger } from 'pino'
import { RateLimiterRes } from 'rate-limiter-flexible'
import type { RateLimiterAbstract } from 'rate-limiter-flexible'

/** Options of {@link MessageBudget}. */
export interface MessageBudgetOptions {
  /** Where the counts live (memory, or Redis shared by every proxy); `points` per `duration`. */
  limiter: RateLimiterAbstract
  points: number
  durationMs: number
  logger: Logger
  now?: () => number
}

interface Budget {
  /** What the limiter last said was left, less what has been reported since. */
  remaining: number
  /** When the limiter's window for this key ends (then `points` are left again). */
  resetAt: number
  /** Allowed here, not yet reported to the limiter. */
  unreported: number
}

/**
 * A synchronous yes/no per message on top of an asynchronous rate limiter, so the
 * per-message path never waits for Redis: each key's budget is what the limiter last
 * reported; messages allowed since are reported in one batch per event-loop turn. Across
 * proxies the limit is exact to within what is in flight in one such turn.
 */
export class MessageBudget {
  readonly #o: MessageBudgetOptions
  readonly #now: () => number
  readonly #budgets = new Map<string, Budget>()
  readonly #sweep: NodeJS.Timeout
  #reportScheduled = false
  #closed = false

  constructor(opts: MessageBudgetOptions) {
    this.#o = opts
    this.#now = opts.now ?? Date.now
    // Budgets of keys gone quiet are forgotten after their window.
    this.#sweep = setInterval(() => this.#forget(), opts.durationMs)
    this.#sweep.unref()
  }

  /** Keys with a budget in memory, for tests and diagnostics. */
  get size(): number {
    return this.#budgets.size
  }

  /** True (and counted) when `key` may send one more message now. */
  allow(key: string): boolean {
    const now = this.#now()
    let b = this.#budgets.get(key)
    if (b === undefined) {
      b = { remaining: this.#o.points, resetAt: now + this.#o.durationMs, unreported: 0 }
      this.#budgets.set(key, b)
    } else if (now >= b.resetAt) {
      b.remaining = this.#o.points
      b.resetAt = now + this.#o.durationMs
    }
    if (b.unreported >= b.remaining) return false
    b.unreported++
    if (!this.#reportScheduled && !this.#closed) {
      this.#reportScheduled = true
      setImmediate(() => this.#report())
    }
    return true
  }

  close(): void {
    this.#closed = true
    clearInterval(this.#sweep)
  }

  #report(): void {
    this.#reportScheduled = false
    for (const [key, b] of this.#budgets) {
      const n = b.unreported
      if (n === 0) continue
      b.unreported = 0
      b.remaining -= n
      this.#o.limiter.consume(key, n).then(
        (res) => this.#learn(b, res),
        (rejection: unknown) => {
          if (rejection instanceof RateLimiterRes) return this.#learn(b, rejection)
          // Store and insurance both failed: keep the local estimate.
          this.#o.logger.debug({ err: rejection }, 'message budget report failed')
        },
      )
    }
  }

  #learn(b: Budget, res: RateLimiterRes): void {
    b.remaining = Math.max(0, res.remainingPoints)
    b.resetAt = this.#now() + res.msBeforeNext
  }

  #forget(): void {
    const now = this.#now()
    for (const [key, b] of this.#budgets) {
      if (b.unreported === 0 && now >= b.resetAt) this.#budgets.delete(key)
    }
  }
}

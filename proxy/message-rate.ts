/**
 * A token bucket: `perSecond` sustained with bursts up to `burst`, decided
 * synchronously (no timer or promise per message).
 */
export class MessageRate {
  readonly #perMs: number
  readonly #burst: number
  readonly #now: () => number
  #tokens: number
  #at: number

  constructor(
    perSecond: number,
    burst: number,
    now: () => number = performance.now.bind(performance),
  ) {
    this.#perMs = perSecond / 1000
    this.#burst = Math.max(1, burst)
    this.#now = now
    this.#tokens = this.#burst
    this.#at = now()
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const now = this.#now()
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) * this.#perMs)
    this.#at = now
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}

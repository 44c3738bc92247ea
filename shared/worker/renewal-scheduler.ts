import type { Logger } from 'pino'
import type { RelayToRegister } from './registrar-client.js'

/** Options of {@link RenewalScheduler}. */
export interface RenewalSchedulerOptions {
  /** Registers a relay and reports the lifetime the registrar gave it. */
  register: (relay: RelayToRegister) => Promise<{ ttlSeconds: number }>
  /** True once the HTTP client is closed; nothing is scheduled after that. */
  isClosed: () => boolean
  /** Called after a renewal re-registered `relayKey`. */
  onRenewed: (relayKey: string) => void
  /** Called after a renewal failed (it is retried with backoff). */
  onFailed: (relayKey: string, error: Error) => void
  logger?: Logger | undefined
  renewFraction: number
  jitter: number
  retry: { minMs: number; maxMs: number }
  random: () => number
}

interface Renewal {
  relay: RelayToRegister
  timer: NodeJS.Timeout | null
  /** The renewal call in progress, which unregister waits out. */
  running: Promise<void> | null
  failures: number
  ttlSeconds: number
}

/**
 * Keeps registered relays alive for a {@link RegistrarClient}: each is re-registered after
 * `renewFraction` of its lifetime (jittered), and a failed renewal is retried with backoff
 * well before the registration lapses.
 */
export class RenewalScheduler {
  readonly #opts: RenewalSchedulerOptions
  readonly #relays = new Map<string, Renewal>()
  #renewing = false

  constructor(options: RenewalSchedulerOptions) {
    this.#opts = options
  }

  /** Remembers `relay` (just registered, for `ttlSeconds`) and schedules it if running. */
  remember(relay: RelayToRegister, ttlSeconds: number): void {
    const existing = this.#relays.get(relay.relayKey)
    if (existing !== undefined) {
      existing.relay = relay
      existing.ttlSeconds = ttlSeconds
    } else {
      this.#relays.set(relay.relayKey, {
        relay,
        timer: null,
        running: null,
        failures: 0,
        ttlSeconds,
      })
    }
    if (this.#renewing) this.#schedule(relay.relayKey, this.#renewDelay(ttlSeconds))
  }

  /** Starts renewing every remembered relay; a no-op when already started. */
  start(): void {
    if (this.#renewing) return
    this.#renewing = true
    for (const [relayKey, renewal] of this.#relays) {
      this.#schedule(relayKey, this.#renewDelay(renewal.ttlSeconds))
    }
  }

  /** Stops renewing `relayKey`; resolves once a renewal call in progress has settled. */
  async forget(relayKey: string): Promise<void> {
    const renewal = this.#relays.get(relayKey)
    if (renewal?.timer != null) clearTimeout(renewal.timer)
    this.#relays.delete(relayKey)
    await renewal?.running
  }

  /** Stops every renewal; relays stay remembered. */
  stop(): void {
    this.#renewing = false
    for (const renewal of this.#relays.values()) {
      if (renewal.timer !== null) clearTimeout(renewal.timer)
      renewal.timer = null
    }
  }

  #schedule(relayKey: string, delayMs: number): void {
    const renewal = this.#relays.get(relayKey)
    if (renewal === undefined || this.#opts.isClosed()) return
    if (renewal.timer !== null) clearTimeout(renewal.timer)
    renewal.timer = setTimeout(() => {
      renewal.timer = null
      renewal.running = this.#renew(relayKey, renewal).finally(() => {
        renewal.running = null
      })
    }, delayMs)
  }

  async #renew(relayKey: string, renewal: Renewal): Promise<void> {
    try {
      const { ttlSeconds } = await this.#opts.register(renewal.relay)
      // Unregistered or closed while the call was out: do not resurrect the schedule.
      if (this.#relays.get(relayKey) !== renewal || !this.#renewing) return
      renewal.failures = 0
      renewal.ttlSeconds = ttlSeconds
      this.#schedule(relayKey, this.#renewDelay(ttlSeconds))
      this.#opts.onRenewed(relayKey)
    } catch (err) {
      if (this.#relays.get(relayKey) !== renewal || !this.#renewing) return
      renewal.failures++
      const { retry } = this.#opts
      const ceiling = Math.min(retry.maxMs, renewal.ttlSeconds * 250)
      const delay = Math.min(ceiling, retry.minMs * 2 ** (renewal.failures - 1))
      this.#opts.logger?.warn(
        { relayKey, failures: renewal.failures, retryInMs: delay, error: (err as Error).message },
        'relay renewal failed',
      )
      this.#schedule(relayKey, this.#jittered(delay))
      this.#opts.onFailed(relayKey, err as Error)
    }
  }

  #renewDelay(ttlSeconds: number): number {
    return this.#jittered(ttlSeconds * 1000 * this.#opts.renewFraction)
  }

  #jittered(ms: number): number {
    const { jitter, random } = this.#opts
    return Math.max(0, Math.round(ms * (1 + jitter * (2 * random() - 1))))
  }
}

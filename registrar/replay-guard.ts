import type { GatewayStore } from '../shared/store/gateway-store.js'
import { RegistrarErrorCode } from '../shared/registrar-api/registrar-error-code.js'
import { HttpError } from './http-error.js'
import type { RegistrarMetrics, SignedRoute } from './registrar-metrics.js'

/** Options of {@link ReplayGuard}. */
export interface ReplayGuardOptions {
  store: GatewayStore
  metrics: RegistrarMetrics
  /** Registrar clock, ms since the epoch. */
  now: () => number
  /** How far `issuedAt` may be from `now()`, either way. */
  maxSkewSeconds: number
}

/**
 * Freshness and single use of signed requests. Callers run it only after the signature has
 * checked out, so that nobody without the secret can use up a worker's nonces.
 */
export class ReplayGuard {
  readonly #store: GatewayStore
  readonly #metrics: RegistrarMetrics
  readonly #now: () => number
  readonly #skewMs: number
  readonly #nonceTtlSeconds: number

  constructor(options: ReplayGuardOptions) {
    this.#store = options.store
    this.#metrics = options.metrics
    this.#now = options.now
    this.#skewMs = options.maxSkewSeconds * 1000
    // A request stays inside the window until issuedAt + skew, and issuedAt may lie up to
    // `skew` ahead of the first use, so a nonce must be remembered for twice the skew.
    this.#nonceTtlSeconds = 2 * options.maxSkewSeconds + 1
  }

  /** Refuses (401 with `staleCode`) an `issuedAt` outside the clock window. */
  assertFresh(
    route: SignedRoute,
    issuedAt: number,
    staleCode:
      typeof RegistrarErrorCode.STALE_REGISTRATION | typeof RegistrarErrorCode.STALE_REQUEST,
  ): void {
    if (Math.abs(this.#now() - issuedAt) <= this.#skewMs) return
    this.#metrics.replayRejections.inc({ route, reason: 'stale' })
    throw new HttpError(
      401,
      staleCode,
      `issuedAt is more than ${this.#skewMs / 1000} s away from the registrar's clock`,
    )
  }

  /**
   * Records `nonce` as used for `scope` (409 `replayed_nonce` when it already was). Rejects
   * with the store's error when the store is down; nothing is recorded then.
   */
  async useNonce(route: SignedRoute, scope: string, nonce: string): Promise<void> {
    if (await this.#store.useNonce(scope, nonce, this.#nonceTtlSeconds)) return
    this.#metrics.replayRejections.inc({ route, reason: 'nonce' })
    throw new HttpError(409, RegistrarErrorCode.REPLAYED_NONCE, 'this nonce was already used')
  }
}

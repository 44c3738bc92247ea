import type { Logger } from 'pino'
import { CloseCode } from './close-codes.js'
import type { OwnerSecrets } from './owner-secrets.js'
import type { ProxyMetrics } from './proxy-metrics.js'
import type { SessionIdentity } from './session-context.js'

/** A live session, relayed or tunnelled, as far as its owner's account is concerned. */
export interface OwnedSession {
  readonly identity: SessionIdentity
  close(code: number, reason: string, notice?: string): void
}

/** Options of {@link OwnerSessions}. */
export interface OwnerSessionsOptions {
  owners: Pick<OwnerSecrets, 'on' | 'off' | 'secret'>
  /** Every live session: relay-v2 ones and tunnelled ones alike. */
  sessions: { list(): Iterable<OwnedSession> }
  metrics: ProxyMetrics
  logger: Logger
}

/**
 * Ends the live sessions of a disabled worker account's relays, as a revocation ends those of
 * revoked tokens (4403): the account's tokens stop working the moment it is disabled. After a
 * feed gap it asks again about every account that owns a live session.
 */
export class OwnerSessions {
  readonly #o: OwnerSessionsOptions
  readonly #onDisabled = (workerId: string): void => this.#closeOwned(workerId)
  readonly #onResync = (): void => void this.#recheck()
  #started = false

  constructor(opts: OwnerSessionsOptions) {
    this.#o = opts
  }

  start(): void {
    if (this.#started) return
    this.#started = true
    this.#o.owners.on('disabled', this.#onDisabled)
    this.#o.owners.on('resync', this.#onResync)
  }

  /** Idempotent; removes its listeners. */
  close(): void {
    if (!this.#started) return
    this.#started = false
    this.#o.owners.off('resync', this.#onResync)
    this.#o.owners.off('disabled', this.#onDisabled)
  }

  #closeOwned(workerId: string): void {
    for (const s of this.#o.sessions.list()) {
      if (s.identity.registration.workerId !== workerId) continue
      this.#o.metrics.tokenRejected('revoked')
      s.close(CloseCode.FORBIDDEN, 'token revoked', 'Error: token revoked')
    }
  }

  async #recheck(): Promise<void> {
    const owners = new Set<string>()
    for (const s of this.#o.sessions.list()) {
      const { workerId } = s.identity.registration
      if (workerId !== undefined) owners.add(workerId)
    }
    for (const workerId of owners) {
      try {
        if ((await this.#o.owners.secret(workerId)) === null) this.#closeOwned(workerId)
      } catch (err) {
        // The store is down: the next resync (the feed reconnecting) asks again.
        this.#o.logger.warn({ err, workerId }, 'worker account unavailable after a feed gap')
      }
    }
  }
}

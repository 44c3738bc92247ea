import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { ErrorCode, wireCode } from '../shared/errors.js'
import type { GatewayStore, StoreChange } from '../shared/store/gateway-store.js'

/** Opens a worker's sealed signing secret; null when it does not open (other key, tampered). */
export interface SecretOpener {
  open(workerId: string, sealed: string): string | null
}

/** Options of {@link OwnerSecrets}. */
export interface OwnerSecretsOptions {
  store: Pick<GatewayStore, 'getWorker' | 'subscribe'>
  /** Null: worker accounts are off here, so no owned relay can be served. */
  opener: SecretOpener | null
  logger: Logger
  /** Safety net for a missed `worker-disabled` (the feed is at-most-once). */
  ttlMs?: number
  /** How long "no such account" is remembered. */
  negativeTtlMs?: number
  maxEntries?: number
  now?: () => number
}

interface Entry {
  /** The opened secret; null for an unknown or disabled account. */
  secret: string | null
  fetchedAt: number
}

/**
 * The signing secrets of the worker accounts that own relays, for verifying their clients'
 * tokens: read through the store, opened once, cached, and dropped when the change feed says
 * an account was disabled (or may have been, after a gap). While the store is down it answers
 * from what it has, as the registration cache does.
 *
 * Events: `disabled` (workerId): its live sessions must end; `resync` (the feed had a gap,
 * every secret was dropped: ask again about the accounts that matter); `unreadable` (workerId):
 * its sealed secret does not open with this proxy's account key, so its relays are not served.
 */
export class OwnerSecrets extends EventEmitter {
  readonly #o: OwnerSecretsOptions
  readonly #ttlMs: number
  readonly #negativeTtlMs: number
  readonly #max: number
  readonly #now: () => number
  readonly #entries = new Map<string, Entry>()
  readonly #inflight = new Map<string, Promise<string | null>>()
  #generation = 0
  #unsubscribe: (() => void) | null = null
  #closed = false

  constructor(opts: OwnerSecretsOptions) {
    super()
    this.#o = opts
    this.#ttlMs = opts.ttlMs ?? 30_000
    this.#negativeTtlMs = opts.negativeTtlMs ?? 2_000
    this.#max = opts.maxEntries ?? 10_000
    this.#now = opts.now ?? Date.now
  }

  /** Whether owned relays can be served at all (an opener is configured). */
  get enabled(): boolean {
    return this.#o.opener !== null
  }

  /** Subscribes to the change feed; idempotent. */
  start(): void {
    if (this.#closed || this.#unsubscribe !== null) return
    this.#unsubscribe = this.#o.store.subscribe((c) => this.#onChange(c))
  }

  /**
   * The signing secret of account `workerId`; null when it is unknown, disabled, or its
   * secret does not open here. Rejects only when the store is down and nothing is cached.
   */
  async secret(workerId: string): Promise<string | null> {
    if (this.#o.opener === null) return null
    const hit = this.#entries.get(workerId)
    if (hit !== undefined) {
      const ttl = hit.secret === null ? this.#negativeTtlMs : this.#ttlMs
      if (this.#now() - hit.fetchedAt < ttl) return hit.secret
    }
    let pending = this.#inflight.get(workerId)
    if (pending === undefined) {
      const fetching = this.#fetch(workerId, hit).finally(() => {
        if (this.#inflight.get(workerId) === fetching) this.#inflight.delete(workerId)
      })
      this.#inflight.set(workerId, (pending = fetching))
    }
    return pending
  }

  /** Leaves the feed, forgets every secret, removes listeners; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#unsubscribe?.()
    this.#unsubscribe = null
    this.#entries.clear()
    this.removeAllListeners()
  }

  async #fetch(workerId: string, stale: Entry | undefined): Promise<string | null> {
    const generation = this.#generation
    try {
      const record = await this.#o.store.getWorker(workerId)
      let secret: string | null = null
      if (record !== null && record.disabledAt === null && record.sealedSecret !== null) {
        secret = this.#o.opener?.open(workerId, record.sealedSecret) ?? null
        if (secret === null) this.#unreadable(workerId)
      }
      if (generation === this.#generation) this.#put(workerId, secret)
      return secret
    } catch (err) {
      if (stale === undefined) throw err
      this.#o.logger.warn({ err, workerId }, 'store unavailable; using cached worker secret')
      return stale.secret
    }
  }

  // Remembered like an unknown account (negativeTtlMs), so this is at most one line per account
  // per negativeTtlMs, not one per client.
  #unreadable(workerId: string): void {
    this.#o.logger.error(
      { workerId, code: wireCode(ErrorCode.WORKER_SECRET_UNREADABLE) },
      'a worker account secret does not open with GATEWAY_WORKER_SECRET_KEY: the key differs from the registrar’s',
    )
    this.emit('unreadable', workerId)
  }

  #put(workerId: string, secret: string | null, fetchedAt = this.#now()): void {
    this.#entries.delete(workerId)
    this.#entries.set(workerId, { secret, fetchedAt })
    if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value!)
  }

  #onChange(change: StoreChange): void {
    if (change.type === 'resync') {
      this.#generation++
      this.#entries.clear()
      this.#inflight.clear()
      this.emit('resync')
      return
    }
    if (change.type !== 'worker-disabled') return
    this.#generation++
    this.#inflight.delete(change.workerId)
    // Disabling is final: remembered for good, so its tokens fail without asking the store.
    this.#put(change.workerId, null, Number.POSITIVE_INFINITY)
    this.emit('disabled', change.workerId)
  }
}

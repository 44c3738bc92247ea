import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type {
  GatewayStore,
  Registration,
  StoreChange,
  TokenState,
} from '../shared/store/gateway-store.js'

/** Options of {@link RegistrationCache}. */
export interface RegistrationCacheOptions {
  store: GatewayStore
  logger: Logger
  /** Safety net for a missed change-feed message (pub/sub is not durable). */
  ttlMs?: number
  /** How long "no such relay" is remembered, so unknown paths cannot hammer the store. */
  negativeTtlMs?: number
  maxEntries?: number
  now?: () => number
}

interface Entry<T> {
  value: T
  fetchedAt: number
}

const ZERO_STATE: TokenState = Object.freeze({ seq: 0, minSeq: 0, revokedAt: 0 })

/**
 * The proxy's view of registrations and token revocations: a cache in front of
 * the shared store that the change feed keeps fresh. When the store is down it
 * answers from what it has (stale beats refusing every client).
 *
 * Events: `registered` (Registration: a live one seen at start, after a resync or on the
 * feed, so the pool can accept its workers before any session used it), `revoked` (relayKey,
 * TokenState), `removed` (relayKey), `resync` (the feed had a gap; every cached entry was
 * dropped).
 */
export class RegistrationCache extends EventEmitter {
  readonly #store: GatewayStore
  readonly #log: Logger
  readonly #ttlMs: number
  readonly #negativeTtlMs: number
  readonly #max: number
  readonly #now: () => number
  readonly #relays = new Map<string, Entry<Registration | null>>()
  readonly #tokens = new Map<string, Entry<TokenState>>()
  readonly #inflight = new Map<string, Promise<Registration | null>>()
  #unsubscribe: (() => void) | null = null
  // Bumped by every registration change: a fetch that started before one must not be cached.
  #generation = 0
  #closed = false

  constructor(opts: RegistrationCacheOptions) {
    super()
    this.#store = opts.store
    this.#log = opts.logger
    this.#ttlMs = opts.ttlMs ?? 30_000
    this.#negativeTtlMs = opts.negativeTtlMs ?? 2_000
    this.#max = opts.maxEntries ?? 10_000
    this.#now = opts.now ?? Date.now
  }

  /** Subscribes to the store's change feed and announces every live registration; idempotent. */
  start(): void {
    if (this.#closed || this.#unsubscribe !== null) return
    this.#unsubscribe = this.#store.subscribe((c) => this.#onChange(c))
    void this.#announceAll()
  }

  /** The registration for a relay key or gatewayPath alias; null when unknown or lapsed. */
  async resolve(identifier: string): Promise<Registration | null> {
    const now = this.#now()
    const hit = this.#relays.get(identifier)
    if (hit !== undefined) {
      const ttl = hit.value === null ? this.#negativeTtlMs : this.#ttlMs
      if (now - hit.fetchedAt < ttl) return live(hit.value, now)
    }
    let pending = this.#inflight.get(identifier)
    if (pending === undefined) {
      pending = this.#fetch(identifier, hit)
      this.#inflight.set(identifier, pending)
    }
    return live(await pending, this.#now())
  }

  /** Revocation state of a relay's tokens. */
  async tokenState(relayKey: string): Promise<TokenState> {
    const hit = this.#tokens.get(relayKey)
    if (hit !== undefined && this.#now() - hit.fetchedAt < this.#ttlMs) return hit.value
    try {
      const state = await this.#store.getTokenState(relayKey)
      this.#put(this.#tokens, relayKey, state)
      return state
    } catch (err) {
      if (hit !== undefined) return hit.value
      this.#log.warn({ err, relayKey }, 'token state unavailable; assuming no revocation')
      return ZERO_STATE
    }
  }

  /** Leaves the change feed and forgets everything; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#unsubscribe?.()
    this.#unsubscribe = null
    this.#relays.clear()
    this.#tokens.clear()
    this.removeAllListeners()
  }

  async #fetch(
    identifier: string,
    stale: Entry<Registration | null> | undefined,
  ): Promise<Registration | null> {
    const generation = this.#generation
    try {
      const value = await this.#store.resolveRelay(identifier)
      if (generation === this.#generation) this.#put(this.#relays, identifier, value)
      return value
    } catch (err) {
      if (stale === undefined) throw err
      this.#log.warn({ err, identifier }, 'store unavailable; serving cached registration')
      return stale.value
    } finally {
      this.#inflight.delete(identifier)
    }
  }

  #put<T>(map: Map<string, Entry<T>>, key: string, value: T): void {
    map.delete(key)
    map.set(key, { value, fetchedAt: this.#now() })
    // Maps iterate in insertion order: the first key is the least recently fetched.
    if (map.size > this.#max) map.delete(map.keys().next().value as string)
  }

  // Every live registration, for listeners that must know workers before a session names them.
  async #announceAll(): Promise<void> {
    let all: Registration[]
    try {
      all = await this.#store.listRegistrations()
    } catch (err) {
      this.#log.warn({ err }, 'registrations unavailable; workers are accepted once resolved')
      return
    }
    for (const registration of all) this.#announce(registration)
  }

  async #announceOne(relayKey: string): Promise<void> {
    const generation = this.#generation
    let registration: Registration | null
    try {
      registration = await this.#store.getRegistration(relayKey)
    } catch (err) {
      this.#log.warn({ err, relayKey }, 'registration unavailable; its workers wait for a session')
      return
    }
    // A later change makes this read old news; that change announces (or removes) on its own.
    if (registration === null || generation !== this.#generation) return
    this.#put(this.#relays, relayKey, registration)
    this.#announce(registration)
  }

  #announce(registration: Registration): void {
    if (this.#closed || live(registration, this.#now()) === null) return
    this.emit('registered', registration)
  }

  #onChange(change: StoreChange): void {
    if (change.type === 'resync') {
      // Changes may have been missed while the feed was down: forget everything.
      this.#generation++
      this.#relays.clear()
      this.#tokens.clear()
      this.emit('resync')
      void this.#announceAll()
      return
    }
    if (change.type === 'tokens-revoked') {
      this.#put(this.#tokens, change.relayKey, change.state)
      this.emit('revoked', change.relayKey, change.state)
      return
    }
    if (change.type === 'relay-released') return // its removal comes on its own
    this.#generation++
    if (change.type === 'worker-disabled') {
      // Its removals follow one by one; its relays must not resolve even for a moment between.
      for (const [key, entry] of this.#relays) {
        if (entry.value?.workerId === change.workerId) this.#relays.delete(key)
      }
      return
    }
    for (const [key, entry] of this.#relays) {
      if (key === change.relayKey || entry.value?.relayKey === change.relayKey)
        this.#relays.delete(key)
    }
    if (change.type === 'registration-removed') this.emit('removed', change.relayKey)
    else void this.#announceOne(change.relayKey)
  }
}

function live(reg: Registration | null, now: number): Registration | null {
  return reg !== null && reg.expiresAt > now ? reg : null
}

/**
 * The registration of the first of `identifiers` (a request's candidates, in order) that names
 * a live relay.
 */
export async function resolveFirst(
  cache: Pick<RegistrationCache, 'resolve'>,
  identifiers: readonly string[],
): Promise<Registration | null> {
  for (const id of identifiers) {
    const registration = await cache.resolve(id)
    if (registration !== null) return registration
  }
  return null
}

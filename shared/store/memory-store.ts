import type { Logger } from 'pino'
import { ErrorCode, GatewayError } from '../errors.js'
import type {
  ChangeListener,
  DisabledWorker,
  GatewayStore,
  ProxyReport,
  PutRegistrationOptions,
  Registration,
  RelayOwner,
  RemoveRegistrationOptions,
  StoreChange,
  TokenState,
  UsageCounters,
  WorkerRecord,
} from './gateway-store.js'
import { aliasTaken } from './gateway-store.js'
import { MemoryOwnership } from './memory-ownership.js'
import {
  gatewayPathOf,
  nonceId,
  normalizeProxyReport,
  normalizeRegistration,
  revocationTime,
  ttlToMs,
  usageEntries,
} from './store-values.js'

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /** Clock in ms since epoch; tests inject one. Default `Date.now`. */
  now?: () => number
  /** How often expired entries are freed (reads never see them anyway). Default 30 s. */
  sweepIntervalMs?: number
  /** Where a throwing change listener is reported. */
  logger?: Logger
}

interface Expiring<T> {
  value: T
  expiresAt: number
}

/**
 * The embedded {@link GatewayStore} for a single process. Nothing is shared with other
 * processes; state is lost on exit. Expiry is checked on every read, and a background sweep
 * (unref'd, so it never keeps the process alive) frees expired entries.
 */
export class MemoryStore implements GatewayStore {
  readonly #now: () => number
  readonly #log: Logger | undefined
  readonly #relays = new Map<string, Expiring<Registration>>()
  readonly #aliases = new Map<string, Expiring<string>>()
  readonly #nonces = new Map<string, number>()
  readonly #tokens = new Map<string, TokenState>()
  readonly #usage = new Map<string, Map<string, number>>()
  readonly #reports = new Map<string, Expiring<ProxyReport>>()
  readonly #listeners = new Set<ChangeListener>()
  readonly #owners = new MemoryOwnership()
  #timer: NodeJS.Timeout | null
  #closed = false

  constructor(options: MemoryStoreOptions = {}) {
    this.#now = options.now ?? Date.now
    this.#log = options.logger
    this.#timer = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 30_000)
    this.#timer.unref()
  }

  async putRegistration(
    registration: Registration,
    ttlSeconds: number,
    options: PutRegistrationOptions = {},
  ): Promise<void> {
    this.#assertOpen()
    const stored = normalizeRegistration(registration)
    const expiresAt = this.#now() + ttlToMs(ttlSeconds)
    const { relayKey } = stored
    const previous = this.#liveRelay(relayKey)
    const oldPath = previous === null ? null : gatewayPathOf(previous)
    const newPath = gatewayPathOf(stored)
    const workerId = options.workerId ?? null
    // Check and write with no await between them: of concurrent claims one wins, as in Redis.
    this.#owners.assertMayRegister(relayKey, newPath, workerId, previous)
    if (newPath !== null && options.exclusiveAlias === true) {
      const holder = this.#live(this.#aliases, newPath)
      if (holder !== null && holder !== relayKey) {
        const held = this.#liveRelay(holder)
        if (held !== null && gatewayPathOf(held) === newPath) throw aliasTaken(newPath)
      }
    }
    if (oldPath !== null && oldPath !== newPath) this.#dropAliasIfOwned(oldPath, relayKey)
    // Ownership is the store's to stamp, never the caller's.
    delete stored.workerId
    if (workerId !== null) {
      stored.workerId = workerId
      this.#owners.claim(relayKey, workerId, newPath, this.#now())
    }
    this.#relays.set(relayKey, { value: stored, expiresAt })
    if (newPath !== null) this.#aliases.set(newPath, { value: relayKey, expiresAt })
    this.#announce({ type: 'registration', relayKey })
  }

  async getRegistration(relayKey: string): Promise<Registration | null> {
    this.#assertOpen()
    return copy(this.#liveRelay(relayKey))
  }

  async resolveRelay(keyOrAlias: string): Promise<Registration | null> {
    this.#assertOpen()
    const direct = this.#liveRelay(keyOrAlias)
    if (direct !== null) return copy(direct)
    const alias = this.#live(this.#aliases, keyOrAlias)
    if (alias === null) return null
    const target = this.#liveRelay(alias)
    // An alias left behind by a relay that since moved must not resolve to it.
    return target !== null && gatewayPathOf(target) === keyOrAlias ? copy(target) : null
  }

  async registrationTtl(relayKey: string): Promise<number | null> {
    this.#assertOpen()
    const entry = this.#relays.get(relayKey)
    if (entry === undefined) return null
    const left = entry.expiresAt - this.#now()
    return left > 0 ? left : null
  }

  async removeRegistration(
    relayKey: string,
    options: RemoveRegistrationOptions = {},
  ): Promise<boolean> {
    this.#assertOpen()
    let released = false
    if ('workerId' in options) {
      const signer = options.workerId ?? null
      this.#owners.assertMayRemove(relayKey, signer, this.#liveRelay(relayKey))
      released = signer !== null && this.#owners.release(relayKey) !== null
    }
    return this.#dropRegistration(relayKey) || released
  }

  async listRegistrations(): Promise<Registration[]> {
    this.#assertOpen()
    const now = this.#now()
    const out: Registration[] = []
    for (const entry of this.#relays.values()) {
      if (entry.expiresAt > now) out.push(structuredClone(entry.value))
    }
    return out
  }

  async createWorker(record: WorkerRecord): Promise<void> {
    this.#assertOpen()
    this.#owners.createWorker(record)
  }

  async getWorker(workerId: string): Promise<WorkerRecord | null> {
    this.#assertOpen()
    return this.#owners.getWorker(workerId)
  }

  async listWorkers(): Promise<WorkerRecord[]> {
    this.#assertOpen()
    return this.#owners.listWorkers()
  }

  async disableWorker(workerId: string, now?: number): Promise<DisabledWorker | null> {
    this.#assertOpen()
    const disabled = this.#owners.disableWorker(workerId, now ?? this.#now())
    if (disabled === null) return null
    if (!disabled.wasActive) return { worker: disabled.worker, removed: [] }
    const removed = disabled.relayKeys.filter(
      (relayKey) => this.#liveRelay(relayKey)?.workerId === workerId,
    )
    this.#announce({ type: 'worker-disabled', workerId, relayKeys: [...removed] })
    for (const relayKey of removed) this.#dropRegistration(relayKey)
    return { worker: disabled.worker, removed }
  }

  async getRelayOwner(relayKey: string): Promise<RelayOwner | null> {
    this.#assertOpen()
    return this.#owners.ownerOf(relayKey)
  }

  async listWorkerRelays(workerId: string): Promise<string[]> {
    this.#assertOpen()
    return this.#owners.relaysOf(workerId)
  }

  async releaseRelay(relayKey: string): Promise<RelayOwner | null> {
    this.#assertOpen()
    const owner = this.#owners.release(relayKey)
    if (owner === null) return null
    this.#dropRegistration(relayKey)
    this.#announce({ type: 'relay-released', relayKey, workerId: owner.workerId })
    return owner
  }

  async useNonce(scope: string, nonce: string, ttlSeconds: number): Promise<boolean> {
    this.#assertOpen()
    const id = nonceId(scope, nonce)
    const ttlMs = ttlToMs(ttlSeconds)
    const now = this.#now()
    const until = this.#nonces.get(id)
    if (until !== undefined && until > now) return false
    this.#nonces.set(id, now + ttlMs)
    return true
  }

  async getTokenState(relayKey: string): Promise<TokenState> {
    this.#assertOpen()
    return { ...(this.#tokens.get(relayKey) ?? { seq: 0, minSeq: 0, revokedAt: 0 }) }
  }

  async nextTokenSeq(relayKey: string): Promise<number> {
    this.#assertOpen()
    const state = this.#tokens.get(relayKey) ?? { seq: 0, minSeq: 0, revokedAt: 0 }
    const next = { ...state, seq: state.seq + 1 }
    this.#tokens.set(relayKey, next)
    return next.seq
  }

  async revokeTokens(relayKey: string, now?: number): Promise<TokenState> {
    this.#assertOpen()
    const state = this.#tokens.get(relayKey) ?? { seq: 0, minSeq: 0, revokedAt: 0 }
    const next: TokenState = {
      seq: state.seq,
      minSeq: state.seq + 1,
      revokedAt: revocationTime(state.revokedAt, now ?? this.#now()),
    }
    this.#tokens.set(relayKey, next)
    this.#announce({ type: 'tokens-revoked', relayKey, state: { ...next } })
    return { ...next }
  }

  async addUsage(key: string, counters: UsageCounters): Promise<void> {
    this.#assertOpen()
    const entries = usageEntries(counters)
    if (entries.length === 0) return
    let current = this.#usage.get(key)
    if (current === undefined) {
      current = new Map()
      this.#usage.set(key, current)
    }
    for (const [name, value] of entries) current.set(name, (current.get(name) ?? 0) + value)
  }

  async getUsage(key: string): Promise<UsageCounters> {
    this.#assertOpen()
    // fromEntries defines own properties, so a counter named "__proto__" stays a counter.
    return Object.fromEntries(this.#usage.get(key) ?? [])
  }

  async putProxyReport(report: ProxyReport, ttlSeconds: number): Promise<void> {
    this.#assertOpen()
    const stored = normalizeProxyReport(report)
    const expiresAt = this.#now() + ttlToMs(ttlSeconds)
    this.#reports.set(stored.proxyId, { value: stored, expiresAt })
  }

  async listProxyReports(): Promise<ProxyReport[]> {
    this.#assertOpen()
    const out: ProxyReport[] = []
    for (const id of [...this.#reports.keys()]) {
      const report = this.#live(this.#reports, id)
      if (report !== null) out.push(structuredClone(report))
    }
    return out
  }

  subscribe(listener: ChangeListener): () => void {
    this.#assertOpen()
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  async ping(): Promise<void> {
    this.#assertOpen()
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    this.#listeners.clear()
    this.#relays.clear()
    this.#aliases.clear()
    this.#nonces.clear()
    this.#tokens.clear()
    this.#usage.clear()
    this.#reports.clear()
    this.#owners.clear()
  }

  /**
   * Drops expired registrations, aliases and nonces; returns how many entries went. Runs on
   * the sweep timer; callable directly.
   */
  sweep(): number {
    const now = this.#now()
    let removed = 0
    for (const map of [this.#relays, this.#aliases, this.#reports] as Map<
      string,
      Expiring<unknown>
    >[]) {
      for (const [key, entry] of map) {
        if (entry.expiresAt <= now && map.delete(key)) removed++
      }
    }
    for (const [id, until] of this.#nonces) {
      if (until <= now && this.#nonces.delete(id)) removed++
    }
    return removed
  }

  #assertOpen(): void {
    if (this.#closed) throw new GatewayError(ErrorCode.STORE_CLOSED, 'store is closed')
  }

  #live<T>(map: Map<string, Expiring<T>>, key: string): T | null {
    const entry = map.get(key)
    if (entry === undefined) return null
    if (entry.expiresAt > this.#now()) return entry.value
    map.delete(key)
    return null
  }

  #liveRelay(relayKey: string): Registration | null {
    return this.#live(this.#relays, relayKey)
  }

  // Removes a live registration and its alias and announces it; false when none was live.
  #dropRegistration(relayKey: string): boolean {
    const previous = this.#liveRelay(relayKey)
    this.#relays.delete(relayKey)
    if (previous === null) return false
    const path = gatewayPathOf(previous)
    if (path !== null) this.#dropAliasIfOwned(path, relayKey)
    this.#announce({ type: 'registration-removed', relayKey })
    return true
  }

  #dropAliasIfOwned(path: string, relayKey: string): void {
    // Another relay may have claimed the path since; its alias stays.
    if (this.#aliases.get(path)?.value === relayKey) this.#aliases.delete(path)
  }

  #announce(change: StoreChange): void {
    // A microtask: listeners never run inside the writer's call stack (a listener that writes
    // back cannot re-enter), yet they have run by the time the writer's await resumes.
    queueMicrotask(() => {
      for (const listener of [...this.#listeners]) {
        if (!this.#listeners.has(listener)) continue
        try {
          listener(change)
        } catch (err) {
          this.#log?.error({ err, change: change.type }, 'store change listener threw')
        }
      }
    })
  }
}

function copy(registration: Registration | null): Registration | null {
  return registration === null ? null : structuredClone(registration)
}

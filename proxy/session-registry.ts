import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { JsonObject } from '../shared/protocol/wire.js'
import type { GatewayStore, TokenState } from '../shared/store/gateway-store.js'
import { isTokenRevoked } from '../shared/store/gateway-store.js'
import type { PeerPool } from '../shared/swarm/peer-pool.js'
import type { PeerState } from '../shared/swarm/select-peer.js'
import { CloseCode } from './close-codes.js'
import type { ProxyMetrics } from './proxy-metrics.js'
import type { RegistrationCache } from './registration-cache.js'
import type { RelaySession } from './relay-session.js'
import type { SessionOwner } from './session-context.js'

/** What the registry needs of the pool: its events and push control frames. */
export type RegistryPool = Pick<PeerPool, 'on' | 'off' | 'sendWsFrame'>

/** Options of {@link SessionRegistry}. */
export interface SessionRegistryOptions {
  pool: RegistryPool
  cache: RegistrationCache
  store: GatewayStore
  metrics: ProxyMetrics
  logger: Logger
  pingIntervalMs: number
  /** How often per-token usage is added to the store. */
  usageFlushMs?: number
}

interface Usage {
  sessions: number
  messages: number
  bytes: number
}

function index<T>(map: Map<string, Set<T>>, key: string, value: T, add: boolean): void {
  let set = map.get(key)
  if (add) {
    if (set === undefined) map.set(key, (set = new Set()))
    set.add(value)
  } else if (set !== undefined) {
    set.delete(value)
    if (set.size === 0) map.delete(key)
  }
}

/**
 * Every live session of this process, indexed the ways the proxy needs: by
 * connectionKey (push delivery), by worker (state changes), by relay
 * (revocation). Runs one ping timer for all sessions. (Per-sender session
 * limits live in SenderLimits.)
 *
 * Events: `failover` (session, from, to).
 */
export class SessionRegistry extends EventEmitter implements SessionOwner {
  readonly #opts: SessionRegistryOptions
  readonly #byKey = new Map<string, RelaySession>()
  readonly #byPeer = new Map<string, Set<RelaySession>>()
  readonly #byRelay = new Map<string, Set<RelaySession>>()
  readonly #usage = new Map<string, Usage>()
  // Which relay a token is for, so usage is also kept per relay (admin API); pruned on flush.
  readonly #tokenRelay = new Map<string, string>()
  readonly #onWsFrame = (peer: string, frame: JsonObject): void => this.#push(peer, frame)
  readonly #onState = (peer: string, state: PeerState): void => this.#peerState(peer, state)
  readonly #onRevoked = (relayKey: string, state: TokenState): void => this.#revoke(relayKey, state)
  readonly #onResync = (): void => void this.#recheckRevocations()
  #ping: NodeJS.Timeout | null = null
  #flush: NodeJS.Timeout | null = null
  #started = false
  #closing: Promise<void> | null = null

  constructor(opts: SessionRegistryOptions) {
    super()
    this.#opts = opts
  }

  get size(): number {
    return this.#byKey.size
  }

  /** Subscribes to the pool and cache and starts the ping and usage timers. */
  start(): void {
    if (this.#started || this.#closing !== null) return
    this.#started = true
    const { pool, cache } = this.#opts
    pool.on('wsframe', this.#onWsFrame)
    pool.on('state', this.#onState)
    cache.on('revoked', this.#onRevoked)
    cache.on('resync', this.#onResync)
    this.#ping = setInterval(() => this.#heartbeat(), this.#opts.pingIntervalMs)
    this.#ping.unref()
    this.#flush = setInterval(() => void this.flushUsage(), this.#opts.usageFlushMs ?? 10_000)
    this.#flush.unref()
  }

  /** Live sessions, for diagnostics and tests. */
  list(): RelaySession[] {
    return [...this.#byKey.values()]
  }

  /** Live sessions linked to worker `peer`. */
  onPeer(peer: string): RelaySession[] {
    return [...(this.#byPeer.get(peer) ?? [])]
  }

  /** An accepted session; it leaves through {@link closed}. */
  add(session: RelaySession): void {
    const { identity } = session
    this.#byKey.set(session.connectionKey, session)
    index(this.#byRelay, identity.registration.relayKey, session, true)
    this.#usageOf(identity.tokenId).sessions++
    this.#tokenRelay.set(identity.tokenId, identity.registration.relayKey)
    this.#opts.metrics.sessions.inc()
    this.#opts.metrics.sessionsOpened.inc()
  }

  linked(session: RelaySession, from: string | null, to: string | null): void {
    if (from !== null) index(this.#byPeer, from, session, false)
    if (to !== null && this.#byKey.get(session.connectionKey) === session)
      index(this.#byPeer, to, session, true)
  }

  moved(session: RelaySession, from: string, to: string): void {
    this.emit('failover', session, from, to)
  }

  closed(session: RelaySession): void {
    if (this.#byKey.get(session.connectionKey) !== session) return
    const { identity } = session
    this.#byKey.delete(session.connectionKey)
    index(this.#byRelay, identity.registration.relayKey, session, false)
    if (session.peer !== null) index(this.#byPeer, session.peer, session, false)
    this.#opts.metrics.sessions.dec()
  }

  /** Adds one message's usage for a token; flushed to the store in batches. */
  countUsage(tokenId: string, messages: number, bytes: number): void {
    const u = this.#usageOf(tokenId)
    u.messages += messages
    u.bytes += bytes
  }

  /** Writes the usage gathered since the last flush to the store. */
  async flushUsage(): Promise<void> {
    if (this.#usage.size === 0) return
    const batch = [...this.#usage]
    this.#usage.clear()
    for (const [tokenId, u] of batch) {
      try {
        await this.#opts.store.addUsage(`token:${tokenId}`, { ...u })
        const relayKey = this.#tokenRelay.get(tokenId)
        if (relayKey !== undefined) await this.#opts.store.addUsage(`relay:${relayKey}`, { ...u })
      } catch (err) {
        this.#opts.logger.warn({ err }, 'usage flush failed; counts for this interval dropped')
        return
      }
    }
    const live = new Set([...this.#byKey.values()].map((s) => s.identity.tokenId))
    for (const tokenId of this.#tokenRelay.keys()) {
      if (!live.has(tokenId)) this.#tokenRelay.delete(tokenId)
    }
  }

  /**
   * Shutdown, first step: every session stops admitting and its in-flight
   * messages are answered, for at most `graceMs`; then all close with 1001
   * (what is still unanswered gets "error: gateway shutting down").
   */
  async drain(graceMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))
    await Promise.race([Promise.all(this.list().map((s) => s.drain())), grace])
    clearTimeout(timer)
    this.closeAll(CloseCode.GOING_AWAY, 'gateway shutting down')
  }

  /** Closes every session with `code`. */
  closeAll(code: number, reason: string): void {
    for (const s of this.list()) s.close(code, reason)
  }

  /** Stops timers, unsubscribes, flushes usage; idempotent. Sessions are closed by drain/closeAll. */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    if (this.#flush !== null) clearInterval(this.#flush)
    if (this.#ping !== null) clearInterval(this.#ping)
    const { pool, cache } = this.#opts
    cache.off('resync', this.#onResync)
    cache.off('revoked', this.#onRevoked)
    pool.off('state', this.#onState)
    pool.off('wsframe', this.#onWsFrame)
    await this.flushUsage()
    this.removeAllListeners()
  }

  #peerState(peer: string, state: PeerState): void {
    for (const s of this.onPeer(peer)) s.peerStateChanged(state)
  }

  #push(peer: string, frame: JsonObject): void {
    const key = frame.connectionKey
    const data = frame.data
    if (typeof key !== 'string' || typeof data !== 'string') return
    const session = this.#byKey.get(key)
    if (session !== undefined && session.peer === peer) return session.deliver(data)
    // Nobody here owns that key any more: tell the worker to stop pushing it.
    this.#opts.pool.sendWsFrame(peer, { connectionKey: key, type: 'close' })
  }

  #revoke(relayKey: string, state: TokenState): void {
    for (const s of [...(this.#byRelay.get(relayKey) ?? [])]) {
      if (!isTokenRevoked(state, s.identity.tokenPayload)) continue
      this.#opts.metrics.tokenRejected('revoked')
      s.close(CloseCode.FORBIDDEN, 'token revoked', 'Error: token revoked')
    }
  }

  // A revocation announced while the feed was down was never heard: ask again.
  async #recheckRevocations(): Promise<void> {
    for (const relayKey of [...this.#byRelay.keys()]) {
      this.#revoke(relayKey, await this.#opts.cache.tokenState(relayKey))
    }
  }

  #heartbeat(): void {
    for (const s of this.#byKey.values()) s.heartbeat()
  }

  #usageOf(tokenId: string): Usage {
    let u = this.#usage.get(tokenId)
    if (u === undefined) {
      u = { sessions: 0, messages: 0, bytes: 0 }
      this.#usage.set(tokenId, u)
    }
    return u
  }
}

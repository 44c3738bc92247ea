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

/** Options of {@link SessionRegistry}. */
export interface SessionRegistryOptions {
  pool: PeerPool
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

/**
 * Every live session of this process, indexed the ways the proxy needs: by
 * connectionKey (push delivery), by worker (failover), by relay (revocation),
 * Runs one ping timer for all sessions.
 *
 * Events: `failover` (session, from, to).
 */
export class SessionRegistry extends EventEmitter {
  readonly #opts: SessionRegistryOptions
  readonly #byKey = new Map<string, RelaySession>()
  readonly #usage = new Map<string, Usage>()
  // Which relay a token is for, so usage is also kept per relay (admin API); pruned on flush.
  readonly #tokenRelay = new Map<string, string>()
  readonly #onWsFrame: (peer: string, frame: JsonObject) => void
  readonly #onState: (peer: string, state: PeerState) => void
  readonly #onRevoked: (relayKey: string, state: TokenState) => void
  readonly #onResync: () => void
  readonly #ping: NodeJS.Timeout
  readonly #flush: NodeJS.Timeout
  #closed = false

  constructor(opts: SessionRegistryOptions) {
    super()
    this.#opts = opts
    this.#onWsFrame = (peer, frame) => this.#push(peer, frame)
    this.#onState = (peer, state) => {
      for (const s of this.#byKey.values()) if (s.peer === peer) s.peerStateChanged(state)
    }
    this.#onRevoked = (relayKey, state) => this.#revoke(relayKey, state)
    this.#onResync = () => void this.#recheckRevocations()
    opts.pool.on('wsframe', this.#onWsFrame)
    opts.pool.on('state', this.#onState)
    opts.cache.on('revoked', this.#onRevoked)
    opts.cache.on('resync', this.#onResync)
    this.#ping = setInterval(() => this.#heartbeat(), opts.pingIntervalMs)
    this.#ping.unref()
    this.#flush = setInterval(() => void this.flushUsage(), opts.usageFlushMs ?? 10_000)
    this.#flush.unref()
  }

  get size(): number {
    return this.#byKey.size
  }

  /** Live sessions, for diagnostics and tests. */
  list(): RelaySession[] {
    return [...this.#byKey.values()]
  }

  add(session: RelaySession): void {
    this.#byKey.set(session.connectionKey, session)
    this.#usageOf(session.identity.tokenId).sessions++
    this.#tokenRelay.set(session.identity.tokenId, session.identity.registration.relayKey)
    this.#opts.metrics.sessions.inc()
    this.#opts.metrics.sessionsOpened.inc()
  }

  remove(session: RelaySession): void {
    if (this.#byKey.get(session.connectionKey) !== session) return
    this.#byKey.delete(session.connectionKey)
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

  /** Closes every session with `code` (1001 on shutdown). */
  closeAll(code: number, reason: string): void {
    for (const s of [...this.#byKey.values()]) s.close(code, reason)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#ping)
    clearInterval(this.#flush)
    this.#opts.cache.off('revoked', this.#onRevoked)
    this.#opts.cache.off('resync', this.#onResync)
    this.#opts.pool.off('state', this.#onState)
    this.#opts.pool.off('wsframe', this.#onWsFrame)
    await this.flushUsage()
    this.removeAllListeners()
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
    for (const s of [...this.#byKey.values()]) {
      if (s.identity.registration.relayKey !== relayKey) continue
      if (!isTokenRevoked(state, s.identity.tokenPayload)) continue
      this.#opts.metrics.tokenRejected('revoked')
      s.close(CloseCode.FORBIDDEN, 'token revoked', 'Error: token revoked')
    }
  }

  // A revocation announced while the feed was down was never heard: ask again.
  async #recheckRevocations(): Promise<void> {
    const relays = new Set([...this.#byKey.values()].map((s) => s.identity.registration.relayKey))
    for (const relayKey of relays) {
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

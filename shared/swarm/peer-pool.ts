import { EventEmitter } from 'node:events'
import type { NoiseSecretStream } from 'hyperdht'
import type Hyperswarm from 'hyperswarm'
import type { PeerDiscovery } from 'hyperswarm'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { ErrorCode, GatewayError } from '../errors.js'
import type { OutgoingRequest } from '../protocol/relay-channel.js'
import { DISCOVERY_TOPIC } from '../protocol/wire.js'
import type { JsonObject, RelayResponse } from '../protocol/wire.js'
import { PeerConnection } from './peer-connection.js'
import { PeerLease } from './peer-lease.js'
import type { PeerHost, PeerPolicy } from './peer-connection.js'
import { DEFAULT_PEER_POLICY } from './peer-policy.js'
import { PoolMetrics } from './pool-metrics.js'
import { ReadyWaiters } from './ready-waiters.js'
import { selectPeer } from './select-peer.js'
import type { PeerSnapshot, PeerState } from './select-peer.js'

// Its home is peer-policy.ts; kept importable from here for code written against the pool.
export { DEFAULT_PEER_POLICY } from './peer-policy.js'

/** Options of {@link PeerPool}; every timing has a production default. */
export interface PeerPoolOptions extends Partial<PeerPolicy> {
  swarm: Hyperswarm
  logger: Logger
  registry: Registry
  /** Join the discovery topic as a client (legacy behaviour); off by default. */
  joinTopic?: boolean
  /** Close connections no session or request used for this long. */
  idleTimeoutMs?: number
  /**
   * Public keys (hex) of blind relays: a direct dial that fails because
   * punching cannot work (HOLEPUNCH_* and similar) is retried through one.
   */
  relays?: readonly string[]
  /** Listen on the gateway key so workers can dial in; on by default. */
  acceptInbound?: boolean
}

const HEX_KEY = /^[0-9a-f]{64}$/
/** One timer drives every link probe at this resolution. */
const TICK_MS = 250

/**
 * The gateway's pool of Hyperswarm peer links: one per worker key, shared by
 * every session routed there, dialled by us or opened by the worker (identity
 * is the link's Noise key either way). It knows peers, not protocols: the
 * relay-v2 channel rides each link, and other channels can join later.
 *
 * Lifecycle: inert constructor, {@link start}, idempotent {@link close}.
 * Events: `state` (key, state, previous), `wsframe` (key, frame),
 * `telemetry` (key, payload), `peer` / `peer-removed` (connection),
 * `inbound` ('accepted' | 'refused', key).
 */
export class PeerPool extends EventEmitter {
  readonly #swarm: Hyperswarm
  readonly #policy: PeerPolicy
  readonly #logger: Logger
  readonly #registry: Registry
  readonly #peers = new Map<string, PeerConnection>()
  readonly #leases = new Map<string, Set<PeerLease>>()
  /** Keys some relay registered: dialled ahead of need, accepted when they dial us. */
  readonly #allowed = new Set<string>()
  /** Keys warmed together (one relay's workers): a live lease on one keeps the others. */
  readonly #groups = new Map<string, readonly string[]>()
  readonly #readyWaiters = new ReadyWaiters()
  readonly #idleTimeoutMs: number
  readonly #joinTopic: boolean
  readonly #acceptInbound: boolean
  readonly #host: PeerHost
  readonly #onConnection = (stream: NoiseSecretStream): void => this.#adopt(stream)
  #metrics: PoolMetrics | null = null
  #discovery: PeerDiscovery | null = null
  #ticker: NodeJS.Timeout | null = null
  #lastSweep = 0
  readonly #closedBytes = { received: 0, sent: 0 }
  #started = false
  #closed = false

  constructor(opts: PeerPoolOptions) {
    super()
    const { swarm, logger, registry, joinTopic, idleTimeoutMs, relays, acceptInbound, ...policy } =
      opts
    this.#swarm = swarm
    this.#logger = logger
    this.#registry = registry
    this.#policy = { ...DEFAULT_PEER_POLICY, ...policy }
    this.#idleTimeoutMs = idleTimeoutMs ?? 120_000
    this.#joinTopic = joinTopic ?? false
    this.#acceptInbound = acceptInbound ?? true
    const relayKeys = (relays ?? []).map((k) => Buffer.from(k, 'hex'))
    this.#host = {
      dial: (publicKey, relayed) =>
        swarm.dht.connect(publicKey, {
          keyPair: swarm.keyPair,
          ...(relayed ? { relayThrough: relayKeys } : {}),
        }),
      canRelay: relayKeys.length > 0,
      gatewayKeyHex: swarm.keyPair.publicKey.toString('hex'),
      logger,
    }
  }

  /** The gateway's swarm public key, hex. */
  get publicKey(): string {
    return this.#host.gatewayKeyHex
  }

  /** Whether {@link start} ran and {@link close} did not. */
  get started(): boolean {
    return this.#started && !this.#closed
  }

  async start(): Promise<void> {
    if (this.#started || this.#closed) return
    this.#started = true
    this.#metrics = new PoolMetrics(this.#registry, this).attach(this)
    this.#swarm.on('connection', this.#onConnection)
    if (this.#acceptInbound) await this.#swarm.listen()
    if (this.#joinTopic) {
      this.#discovery = this.#swarm.join(DISCOVERY_TOPIC, { client: true, server: false })
    }
    this.#ticker = setInterval(() => this.#tick(), TICK_MS)
    this.#ticker.unref()
  }

  /** The pooled connection for `key`, created (and dialled) on first use. */
  peer(key: string): PeerConnection {
    if (this.#closed) throw new GatewayError(ErrorCode.POOL_CLOSED, 'peer pool is closed')
    let conn = this.#peers.get(key)
    if (conn === undefined) {
      if (!HEX_KEY.test(key)) {
        throw new GatewayError(
          ErrorCode.PEER_UNREACHABLE,
          'peer key must be 64 lowercase hex characters',
        )
      }
      conn = this.#create(key)
      conn.connect()
    }
    return conn
  }

  /** Every pooled connection. */
  connections(): IterableIterator<PeerConnection> {
    return this.#peers.values()
  }

  /** A snapshot per candidate key, for selection and diagnostics. */
  snapshot(key: string): PeerSnapshot {
    const conn = this.#peers.get(key)
    const sessions = this.#leases.get(key)?.size ?? 0
    if (conn === undefined) return { key, state: null, inflight: 0, sessions, latencyMs: null }
    return { key, state: conn.state, inflight: conn.inflight, sessions, latencyMs: conn.latencyMs }
  }

  /**
   * Picks the best of `keys` (see selectPeer); null when none is usable.
   * `keys` are one relay's workers: they are warmed (see {@link warm}), so
   * the ones not picked are dialled ahead of a failover.
   */
  select(keys: readonly string[], exclude?: ReadonlySet<string>): string | null {
    this.warm(keys)
    return selectPeer(
      keys.map((k) => this.snapshot(k)),
      exclude,
    )
  }

  /**
   * Marks `keys` as one relay's registered workers: each may dial in and each
   * is dialled now, ahead of need, so that a first session or a failover
   * lands on a warm link; while any of them holds a lease none is reaped as
   * idle. Call it whenever a registration is seen or used; repeated calls are
   * cheap and never cut a reconnect backoff short.
   */
  warm(keys: readonly string[]): void {
    if (this.#closed) return
    this.allow(keys)
    for (const key of keys) {
      if (!HEX_KEY.test(key)) continue
      this.#groups.set(key, keys)
      if (!this.#peers.has(key)) this.peer(key)
    }
  }

  /**
   * Accepts inbound links from `keys` without dialling them (workers that
   * dial out to the gateway). A link from any other key is refused once its
   * Noise handshake names it. Invalid keys are ignored.
   */
  allow(keys: readonly string[]): void {
    for (const key of keys) if (HEX_KEY.test(key)) this.#allowed.add(key)
  }

  /**
   * Stops accepting new inbound links from `keys` (no live registration lists them any more).
   * A link already open stays until it closes or idles out.
   */
  disallow(keys: readonly string[]): void {
    for (const key of keys) this.#allowed.delete(key)
  }

  /**
   * Waits for a usable worker among `keys`: resolves with the best ready key
   * (fewest sessions first, see {@link select}) as soon as one is ready, or
   * with null once `timeoutMs` passes or the pool closes. Warms every key, so
   * a cold start or a failover dials all of a relay's workers at once.
   *
   * @param exclude keys not to return (e.g. the worker a session leaves)
   */
  whenReady(
    keys: readonly string[],
    timeoutMs: number,
    exclude?: ReadonlySet<string>,
  ): Promise<string | null> {
    if (this.#closed) return Promise.resolve(null)
    this.warm(keys)
    const now = this.#selectReady(keys, exclude)
    if (now !== null || timeoutMs <= 0) return Promise.resolve(now)
    return this.#readyWaiters.wait(keys, timeoutMs, () => this.#selectReady(keys, exclude))
  }

  /** Requests in flight across every peer. */
  get inflight(): number {
    let n = 0
    for (const conn of this.#peers.values()) n += conn.inflight
    return n
  }

  /** Keys of pooled peers currently in `state`. */
  keysInState(state: PeerState): string[] {
    const keys: string[] = []
    for (const [key, conn] of this.#peers) if (conn.state === state) keys.push(key)
    return keys
  }

  /** Resolves with an open connection to `key` or rejects PEER_UNREACHABLE. */
  async acquire(key: string): Promise<PeerConnection> {
    const conn = this.peer(key)
    await conn.whenOpen()
    return conn
  }

  /** Sends a request to `key`; 5xx answers reject with PEER_ERROR. */
  request(
    key: string,
    req: OutgoingRequest,
    opts: { timeoutMs?: number } = {},
  ): Promise<RelayResponse> {
    return this.peer(key).request(req, opts.timeoutMs)
  }

  /**
   * Claims `key` for a session (or any long-lived user): the connection is
   * kept, and counted in selection, until the returned lease is released.
   * The only way to claim a peer.
   */
  lease(key: string): PeerLease {
    const conn = this.peer(key)
    let leases = this.#leases.get(key)
    if (leases === undefined) {
      leases = new Set()
      this.#leases.set(key, leases)
    }
    const held = leases
    const lease = new PeerLease(conn, (l) => {
      held.delete(l)
      if (held.size === 0 && this.#leases.get(key) === held) this.#leases.delete(key)
    })
    held.add(lease)
    return lease
  }

  sendWsFrame(key: string, frame: JsonObject): boolean {
    return this.#peers.get(key)?.sendWsFrame(frame) ?? false
  }

  /** Peers by state, for scrape-time metrics. */
  countByState(): Record<PeerState, number> {
    const counts: Record<PeerState, number> = { connecting: 0, ready: 0, unhealthy: 0, down: 0 }
    for (const conn of this.#peers.values()) counts[conn.state]++
    return counts
  }

  /** Bytes exchanged with peers so far, for scrape-time metrics. */
  bytes(): { received: number; sent: number } {
    let { received, sent } = this.#closedBytes
    for (const conn of this.#peers.values()) {
      const live = conn.liveBytes()
      received += live.received
      sent += live.sent
    }
    return { received, sent }
  }

  /**
   * Stops accepting and dialling, answers waiters, closes every connection,
   * then the discovery session and the metrics subscriptions, and removes
   * its listeners. Does not destroy the borrowed swarm. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#ticker !== null) clearInterval(this.#ticker)
    this.#ticker = null
    this.#swarm.off('connection', this.#onConnection)
    this.#readyWaiters.clear()
    const discovery = this.#discovery
    this.#discovery = null
    await Promise.all([...this.#peers.values()].map((c) => c.close()))
    for (const conn of this.#peers.values()) this.emit('peer-removed', conn)
    this.#peers.clear()
    if (discovery !== null) await discovery.destroy()
    this.#metrics?.detach()
    this.#metrics = null
    this.removeAllListeners()
  }

  #selectReady(keys: readonly string[], exclude?: ReadonlySet<string>): string | null {
    const key = this.select(keys, exclude)
    return key !== null && this.#peers.get(key)?.state === 'ready' ? key : null
  }

  #create(key: string): PeerConnection {
    const conn = new PeerConnection(Buffer.from(key, 'hex'), this.#policy, this.#host)
    conn.on('state', (state: PeerState, prev: PeerState) => {
      this.emit('state', key, state, prev)
      this.#readyWaiters.onState(key, state)
    })
    conn.on('wsframe', (frame: JsonObject) => this.emit('wsframe', key, frame))
    conn.on('telemetry', (payload: JsonObject) => this.emit('telemetry', key, payload))
    this.#peers.set(key, conn)
    this.emit('peer', conn)
    return conn
  }

  #adopt(stream: NoiseSecretStream): void {
    stream.on('error', () => {})
    if (this.#closed) return void stream.destroy()
    const key = stream.remotePublicKey.toString('hex')
    let conn = this.#peers.get(key)
    if (conn === undefined && (this.#allowed.has(key) || this.#joinTopic)) conn = this.#create(key)
    if (conn === undefined || !conn.adopt(stream)) {
      this.emit('inbound', 'refused', key)
      this.#logger.info({ peer: key }, 'refusing inbound link: not a registered peer')
      stream.destroy()
      return
    }
    this.emit('inbound', 'accepted', key)
  }

  #tick(): void {
    const now = Date.now()
    for (const conn of this.#peers.values()) conn.tick(now)
    if (now - this.#lastSweep >= Math.max(1_000, this.#idleTimeoutMs / 4)) {
      this.#lastSweep = now
      this.#reapIdle(now)
    }
  }

  #inUse(key: string): boolean {
    if (this.#leases.has(key) || (this.#peers.get(key)?.inflight ?? 0) > 0) return true
    return this.#groups.get(key)?.some((k) => this.#leases.has(k)) ?? false
  }

  #reapIdle(now: number): void {
    const cutoff = now - this.#idleTimeoutMs
    for (const [key, conn] of this.#peers) {
      if (this.#inUse(key) || conn.stats.lastUsedAt >= cutoff) continue
      this.#peers.delete(key)
      this.#groups.delete(key)
      const bytes = conn.liveBytes()
      this.#closedBytes.received += bytes.received
      this.#closedBytes.sent += bytes.sent
      this.#logger.info({ peer: key }, 'closing idle peer connection')
      this.emit('peer-removed', conn)
      void conn.close()
    }
  }
}

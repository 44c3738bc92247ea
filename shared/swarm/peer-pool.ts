import { EventEmitter } from 'node:events'
import type { NoiseSecretStream } from 'hyperdht'
import type Hyperswarm from 'hyperswarm'
import type { PeerDiscovery } from 'hyperswarm'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { ErrorCode, GatewayError } from '../errors.js'
import type { OutgoingRequest } from '../protocol/relay-channel.js'
import { Capability, DISCOVERY_TOPIC } from '../protocol/wire.js'
import type { JsonObject, RelayResponse } from '../protocol/wire.js'
import { PeerConnection } from './peer-connection.js'
import { PeerLease } from './peer-lease.js'
import type { PeerHost, PeerPolicy } from './peer-connection.js'
import { PoolMetrics } from './pool-metrics.js'
import { selectPeer } from './select-peer.js'
import type { PeerSnapshot, PeerState } from './select-peer.js'

/** Options of {@link PeerPool}; every timing has a production default. */
export interface PeerPoolOptions extends Partial<PeerPolicy> {
  swarm: Hyperswarm
  logger: Logger
  registry: Registry
  /** Join the discovery topic as a client (legacy behaviour); off by default. */
  joinTopic?: boolean
  /** Close connections no session or request used for this long. */
  idleTimeoutMs?: number
}

const HEX_KEY = /^[0-9a-f]{64}$/

/** Default policy: legacy timeouts, health every 5 s, unhealthy after 2 misses. */
export const DEFAULT_PEER_POLICY: PeerPolicy = {
  capabilities: [
    Capability.HTTP,
    Capability.WEBSOCKET,
    Capability.HEALTH,
    Capability.PUSH,
    Capability.TEXT_BODY,
    Capability.PIPELINE,
    Capability.RELAY_INFO,
  ],
  requestTimeoutMs: 30_000,
  healthTimeoutMs: 5_000,
  healthIntervalMs: 5_000,
  unhealthyAfter: 2,
  downAfter: 4,
  openTimeoutMs: 20_000,
  backoff: { minMs: 500, maxMs: 30_000 },
  identify: true,
}

/**
 * The gateway's pool of Hyperswarm peer connections: one per worker key,
 * shared by every session routed there. It knows peers, not protocols: the
 * relay-v2 channel rides each connection, and other channels can join later.
 *
 * Events: `state` (key, state, previous), `wsframe` (key, frame),
 * `telemetry` (key, payload).
 */
export class PeerPool extends EventEmitter {
  readonly #swarm: Hyperswarm
  readonly #policy: PeerPolicy
  readonly #logger: Logger
  readonly #metrics: PoolMetrics
  readonly #peers = new Map<string, PeerConnection>()
  readonly #idleTimeoutMs: number
  readonly #joinTopic: boolean
  readonly #host: PeerHost
  readonly #onConnection: (stream: NoiseSecretStream) => void
  /** Keys some relay registered: dialled ahead of need, accepted when they dial us. */
  readonly #allowed = new Set<string>()
  readonly #readyWaiters = new Set<(key: string | null) => void>()
  #discovery: PeerDiscovery | null = null
  #idleTimer: NodeJS.Timeout | null = null
  readonly #closedBytes = { received: 0, sent: 0 }
  #started = false
  #closed = false

  constructor(opts: PeerPoolOptions) {
    super()
    const { swarm, logger, registry, joinTopic, idleTimeoutMs, ...policy } = opts
    this.#swarm = swarm
    this.#logger = logger
    this.#policy = { ...DEFAULT_PEER_POLICY, ...policy }
    this.#idleTimeoutMs = idleTimeoutMs ?? 120_000
    this.#joinTopic = joinTopic ?? false
    this.#metrics = new PoolMetrics(registry, {
      countByState: () => this.#countByState(),
      bytes: () => this.#bytes(),
    })
    const closedBytes = this.#closedBytes
    this.#host = {
      dial: (publicKey) => swarm.dht.connect(publicKey, { keyPair: swarm.keyPair }),
      gatewayKeyHex: swarm.keyPair.publicKey.toString('hex'),
      logger,
      metrics: this.#metrics,
      addBytes(received, sent) {
        closedBytes.received += received
        closedBytes.sent += sent
      },
    }
    this.#onConnection = (stream) => this.#adopt(stream)
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
    if (this.#started) return
    this.#started = true
    this.#swarm.on('connection', this.#onConnection)
    if (this.#joinTopic) {
      this.#discovery = this.#swarm.join(DISCOVERY_TOPIC, { client: true, server: false })
    }
    const sweep = Math.max(1_000, Math.floor(this.#idleTimeoutMs / 4))
    this.#idleTimer = setInterval(() => this.#reapIdle(), sweep)
    this.#idleTimer.unref()
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

  /** A snapshot per candidate key, for selection and diagnostics. */
  snapshot(key: string): PeerSnapshot {
    const conn = this.#peers.get(key)
    if (conn === undefined) return { key, state: null, inflight: 0, sessions: 0, latencyMs: null }
    return {
      key,
      state: conn.state,
      inflight: conn.inflight,
      sessions: conn.sessions,
      latencyMs: conn.latencyMs,
    }
  }

  /** Picks the best of `keys` (see selectPeer); null when none is usable. */
  select(keys: readonly string[], exclude?: ReadonlySet<string>): string | null {
    return selectPeer(
      keys.map((k) => this.snapshot(k)),
      exclude,
    )
  }

  #selectReady(keys: readonly string[], exclude?: ReadonlySet<string>): string | null {
    const key = this.select(keys, exclude)
    return key !== null && this.#peers.get(key)?.state === 'ready' ? key : null
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

  /**
   * Marks `keys` as registered workers: each may dial in (see inbound links)
   * and is dialled now, ahead of need, so that a first session or a failover
   * lands on a warm link. Call it whenever a registration is seen or used;
   * repeated calls are cheap and never restart a dial in backoff.
   */
  warm(keys: readonly string[]): void {
    if (this.#closed) return
    this.allow(keys)
    for (const key of keys) if (!this.#peers.has(key)) this.peer(key)
  }

  /**
   * Accepts inbound links from `keys` without dialling them (a worker that
   * dials out to the gateway). Invalid keys are ignored.
   */
  allow(keys: readonly string[]): void {
    for (const key of keys) if (HEX_KEY.test(key)) this.#allowed.add(key)
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
    return new Promise((resolve) => {
      const done = (key: string | null): void => {
        clearTimeout(timer)
        this.off('state', onState)
        this.#readyWaiters.delete(done)
        resolve(key)
      }
      const onState = (key: string, state: PeerState): void => {
        if (state !== 'ready' || !keys.includes(key)) return
        const pick = this.#selectReady(keys, exclude)
        if (pick !== null) done(pick)
      }
      const timer = setTimeout(() => done(null), timeoutMs)
      this.on('state', onState)
      this.#readyWaiters.add(done)
    })
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
   */
  lease(key: string): PeerLease {
    const conn = this.peer(key)
    const lease = new PeerLease(conn, (l) => {
      conn.leases.delete(l)
      conn.lastUsed = Date.now()
    })
    conn.leases.add(lease)
    return lease
  }

  sendWsFrame(key: string, frame: JsonObject): boolean {
    return this.#peers.get(key)?.sendWsFrame(frame) ?? false
  }

  /** Closes every connection and stops all timers. Does not destroy the swarm. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#idleTimer !== null) clearInterval(this.#idleTimer)
    for (const done of [...this.#readyWaiters]) done(null)
    this.#swarm.off('connection', this.#onConnection)
    const discovery = this.#discovery
    this.#discovery = null
    await Promise.all([...this.#peers.values()].map((c) => c.close()))
    this.#peers.clear()
    if (discovery !== null) await discovery.destroy()
    this.removeAllListeners()
  }

  #create(key: string): PeerConnection {
    const conn = new PeerConnection(Buffer.from(key, 'hex'), this.#policy, this.#host)
    conn.on('state', (state: PeerState, prev: PeerState) => this.emit('state', key, state, prev))
    conn.on('wsframe', (frame: JsonObject) => this.emit('wsframe', key, frame))
    conn.on('telemetry', (payload: JsonObject) => this.emit('telemetry', key, payload))
    this.#peers.set(key, conn)
    return conn
  }

  #adopt(stream: NoiseSecretStream): void {
    stream.on('error', () => {})
    const key = stream.remotePublicKey.toString('hex')
    let conn = this.#peers.get(key)
    if (conn === undefined && this.#joinTopic) conn = this.#create(key)
    // A connection we already hold wins; the swarm's duplicate is not needed.
    if (conn === undefined || !conn.adopt(stream)) stream.destroy()
  }

  #reapIdle(): void {
    const cutoff = Date.now() - this.#idleTimeoutMs
    for (const [key, conn] of this.#peers) {
      if (conn.sessions === 0 && conn.inflight === 0 && conn.lastUsed < cutoff) {
        this.#peers.delete(key)
        this.#logger.info({ peer: key }, 'closing idle peer connection')
        void conn.close()
      }
    }
  }

  #countByState(): Record<PeerState, number> {
    const counts: Record<PeerState, number> = { connecting: 0, ready: 0, unhealthy: 0, down: 0 }
    for (const conn of this.#peers.values()) counts[conn.state]++
    return counts
  }

  #bytes(): { received: number; sent: number } {
    let { received, sent } = this.#closedBytes
    for (const conn of this.#peers.values()) {
      const live = conn.liveBytes()
      received += live.received
      sent += live.sent
    }
    return { received, sent }
  }
}

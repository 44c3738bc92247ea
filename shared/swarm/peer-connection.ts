import { EventEmitter } from 'node:events'
import type { NoiseSecretStream } from 'hyperdht'
import type { Logger } from 'pino'
import { ErrorCode, GatewayError } from '../errors.js'
import { RelayChannel } from '../protocol/relay-channel.js'
import type { OutgoingRequest } from '../protocol/relay-channel.js'
import type { JsonObject, RelayResponse } from '../protocol/wire.js'
import { backoffDelay } from '../retry/backoff.js'
import type { BackoffOptions } from '../retry/backoff.js'
import type { PoolMetrics, RequestOutcome } from './pool-metrics.js'
import { routeClass } from './pool-metrics.js'
import type { PeerLease } from './peer-lease.js'
import type { PeerState } from './select-peer.js'

/** Timings and policy shared by every pooled peer. */
export interface PeerPolicy {
  capabilities: readonly string[]
  requestTimeoutMs: number
  healthTimeoutMs: number
  healthIntervalMs: number
  /** Consecutive failed health checks before a peer is unhealthy. */
  unhealthyAfter: number
  /** Consecutive failed health checks before the connection is dropped. */
  downAfter: number
  /** Longest wait for a dial plus channel handshake. */
  openTimeoutMs: number
  backoff: BackoffOptions
  /** Announce ourselves with `POST /identify-gateway` on open. */
  identify: boolean
}

/** What a connection needs from its pool. */
export interface PeerHost {
  dial(publicKey: Buffer): NoiseSecretStream
  readonly gatewayKeyHex: string
  readonly logger: Logger
  readonly metrics: PoolMetrics
  addBytes(received: number, sent: number): void
}

const EWMA_ALPHA = 0.2

/**
 * One peer's connection lifecycle: dial, channel handshake, health checks,
 * latency estimate, reconnect with backoff. Owned by a PeerPool.
 *
 * Events: `state` (state, previous), `wsframe` (frame), `telemetry` (object).
 */
export class PeerConnection extends EventEmitter {
  readonly key: string
  readonly publicKey: Buffer
  state: PeerState = 'down'
  latencyMs: number | null = null
  inflight = 0
  lastUsed = Date.now()
  /** Live leases (see PeerPool.lease); the pool keeps the connection while any exist. */
  readonly leases = new Set<PeerLease>()
  readonly #policy: PeerPolicy
  readonly #host: PeerHost
  #stream: NoiseSecretStream | null = null
  #channel: RelayChannel | null = null
  #attempt = 0
  #failures = 0
  #healthTimer: NodeJS.Timeout | null = null
  #retryTimer: NodeJS.Timeout | null = null
  #checking = false
  #closed = false
  #waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = []

  constructor(publicKey: Buffer, policy: PeerPolicy, host: PeerHost) {
    super()
    this.publicKey = publicKey
    this.key = publicKey.toString('hex')
    this.#policy = policy
    this.#host = host
  }

  /** Sessions routed here: one per live lease. */
  get sessions(): number {
    return this.leases.size
  }

  /** The open channel, if any. */
  get channel(): RelayChannel | null {
    return this.#channel
  }

  /** True while a channel is open (ready or unhealthy). */
  get isOpen(): boolean {
    return this.#channel !== null && !this.#channel.closed && this.#channel.remoteHandshake !== null
  }

  /** Both sides advertise `capability` on the current channel. */
  supports(capability: string): boolean {
    return this.#channel?.supports(capability) ?? false
  }

  /** Begins dialling unless a dial or connection is already under way. */
  connect(): void {
    if (this.#closed || this.#stream !== null) return
    if (this.#retryTimer !== null) {
      clearTimeout(this.#retryTimer)
      this.#retryTimer = null
    }
    this.#dial()
  }

  /** Resolves once open; rejects with PEER_UNREACHABLE when the current attempt fails. */
  whenOpen(): Promise<void> {
    if (this.isOpen) return Promise.resolve()
    if (this.#closed) return Promise.reject(this.#unreachable('pool closed'))
    if (this.#stream === null) {
      // In backoff: fail fast so callers can fail over; the retry still runs.
      if (this.#retryTimer !== null) return Promise.reject(this.#unreachable('peer is down'))
      this.connect()
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }))
  }

  /** Takes over a stream the swarm produced (topic mode, or the peer dialled us). */
  adopt(stream: NoiseSecretStream): boolean {
    if (this.#closed || this.#stream !== null) return false
    if (this.#retryTimer !== null) {
      clearTimeout(this.#retryTimer)
      this.#retryTimer = null
    }
    this.#setState('connecting')
    void this.#attach(stream)
    return true
  }

  /** Sends a request over the open channel, tracking load, latency and outcome. */
  async request(req: OutgoingRequest, timeoutMs?: number): Promise<RelayResponse> {
    const route = routeClass(req.path)
    // The common case, an open channel, costs no promise or closure here.
    if (!this.isOpen) {
      await this.whenOpen().catch((err: unknown) => {
        this.#host.metrics.request(route, 'unreachable', null)
        throw err
      })
    }
    const channel = this.#channel as RelayChannel
    this.inflight++
    this.lastUsed = Date.now()
    const started = performance.now()
    let outcome: RequestOutcome = 'ok'
    try {
      const res = await channel.request(req, timeoutMs === undefined ? {} : { timeoutMs })
      this.#sample(performance.now() - started)
      if (res.statusCode >= 500) {
        outcome = 'peer_error'
        throw new GatewayError(ErrorCode.PEER_ERROR, `peer answered ${res.statusCode}`, {
          details: { statusCode: res.statusCode, peer: this.key },
        })
      }
      return res
    } catch (err) {
      if (outcome === 'ok')
        outcome = (err as GatewayError).code === ErrorCode.REQUEST_TIMEOUT ? 'timeout' : 'closed'
      // A timeout may mean the peer died; find out now instead of at the next tick.
      if (outcome === 'timeout') this.#checkHealth()
      throw err
    } finally {
      this.inflight--
      this.#host.metrics.request(route, outcome, (performance.now() - started) / 1000)
    }
  }

  /** Sends a wsframe object; false when not open or backed up. */
  sendWsFrame(frame: JsonObject): boolean {
    return this.#channel?.sendWsFrame(frame) ?? false
  }

  /** Drops the connection and stops reconnecting. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#clearTimers()
    const stream = this.#stream
    this.#failWaiters('pool closed')
    if (stream !== null) {
      const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()))
      stream.destroy()
      await closed
    }
    this.removeAllListeners()
  }

  #dial(): void {
    this.#setState('connecting')
    let stream: NoiseSecretStream
    try {
      stream = this.#host.dial(this.publicKey)
    } catch (err) {
      this.#host.metrics.dials.inc({ outcome: 'failed' })
      this.#host.logger.warn({ peer: this.key, err }, 'dial failed to start')
      this.#down()
      return
    }
    void this.#attach(stream)
  }

  async #attach(stream: NoiseSecretStream): Promise<void> {
    this.#stream = stream
    const log = this.#host.logger
    stream.on('error', (err: Error) =>
      log.debug({ peer: this.key, err: err.message }, 'peer stream error'),
    )
    stream.once('close', () => this.#onStreamClose(stream))
    const timer = setTimeout(() => {
      this.#host.metrics.dials.inc({ outcome: 'timeout' })
      stream.destroy(new GatewayError(ErrorCode.PEER_UNREACHABLE, 'open timed out'))
    }, this.#policy.openTimeoutMs)
    try {
      const opened = await stream.opened
      if (!opened || this.#stream !== stream) return
      if (!stream.remotePublicKey.equals(this.publicKey)) {
        this.#host.metrics.dials.inc({ outcome: 'key_mismatch' })
        log.warn({ peer: this.key }, 'refusing connection: remote key is not the expected peer')
        stream.destroy(new GatewayError(ErrorCode.PEER_KEY_MISMATCH, 'remote key mismatch'))
        return
      }
      const channel = new RelayChannel(stream, {
        isServer: false,
        gateway: true,
        capabilities: this.#policy.capabilities,
        requestTimeoutMs: this.#policy.requestTimeoutMs,
        healthTimeoutMs: this.#policy.healthTimeoutMs,
      })
      this.#channel = channel
      channel.on('wsframe', (frame: JsonObject) => this.emit('wsframe', frame))
      channel.on('telemetry', (payload: JsonObject) => this.emit('telemetry', payload))
      channel.on('protocol-error', (err: GatewayError) => {
        this.#host.metrics.protocolErrors.inc()
        log.warn({ peer: this.key, err: err.message }, 'undecodable message from peer')
      })
      // A peer that closes our channel cannot serve us; drop the connection.
      channel.on('close', () => stream.destroy())
      await channel.opened()
      if (this.#stream !== stream) return
      this.#host.metrics.dials.inc({ outcome: 'ok' })
      this.#attempt = 0
      this.#failures = 0
      this.#setState('ready')
      for (const w of this.#waiters.splice(0)) w.resolve()
      this.#scheduleHealth()
      if (this.#policy.identify) this.#identify(channel)
    } catch {
      // The stream's close handler moves us to down and schedules the retry.
      stream.destroy()
    } finally {
      clearTimeout(timer)
    }
  }

  #identify(channel: RelayChannel): void {
    // Some workers never answer; nothing waits on this.
    const body = Buffer.from(
      JSON.stringify({
        status: 'identified',
        payload: { role: 'gateway', capabilities: this.#policy.capabilities },
        peer: this.#host.gatewayKeyHex,
        timestamp: Date.now(),
      }),
    )
    channel
      .request(
        {
          method: 'POST',
          path: '/identify-gateway',
          headers: { 'content-type': 'application/json' },
          body,
        },
        { timeoutMs: this.#policy.healthTimeoutMs },
      )
      .catch((err: GatewayError) =>
        this.#host.logger.debug({ peer: this.key, code: err.code }, 'no identify answer'),
      )
  }

  #onStreamClose(stream: NoiseSecretStream): void {
    if (this.#stream !== stream) return
    const raw = stream.rawStream as { bytesReceived?: number; bytesTransmitted?: number } | null
    this.#host.addBytes(raw?.bytesReceived ?? 0, raw?.bytesTransmitted ?? 0)
    this.#stream = null
    this.#channel = null
    if (this.#healthTimer !== null) clearTimeout(this.#healthTimer)
    this.#healthTimer = null
    if (this.#closed) return
    if (this.state === 'connecting') this.#host.metrics.dials.inc({ outcome: 'failed' })
    this.#down()
  }

  #down(): void {
    this.#setState('down')
    this.#failWaiters('connection failed')
    const delay = backoffDelay(this.#attempt++, this.#policy.backoff)
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null
      this.#dial()
    }, delay)
  }

  #scheduleHealth(): void {
    if (this.#healthTimer !== null) clearTimeout(this.#healthTimer)
    this.#healthTimer = setTimeout(() => this.#checkHealth(), this.#policy.healthIntervalMs)
  }

  #checkHealth(): void {
    const channel = this.#channel
    if (channel === null || this.#checking) return
    this.#checking = true
    channel.healthCheck().then(
      (res) => {
        this.#checking = false
        this.#host.metrics.healthChecks.inc({ outcome: 'ok' })
        this.#host.metrics.healthLatency.observe(res.rttMs / 1000)
        this.#sample(res.rttMs)
        this.#failures = 0
        if (this.state === 'unhealthy') this.#setState('ready')
        if (this.#channel === channel) this.#scheduleHealth()
      },
      () => {
        this.#checking = false
        this.#host.metrics.healthChecks.inc({ outcome: 'failed' })
        this.#failures++
        if (this.#channel !== channel) return
        if (this.#failures >= this.#policy.downAfter) {
          this.#host.logger.warn(
            { peer: this.key, failures: this.#failures },
            'peer stopped answering; dropping connection',
          )
          this.#stream?.destroy()
          return
        }
        if (this.#failures >= this.#policy.unhealthyAfter) this.#setState('unhealthy')
        this.#scheduleHealth()
      },
    )
  }

  #sample(ms: number): void {
    this.latencyMs =
      this.latencyMs === null ? ms : this.latencyMs + EWMA_ALPHA * (ms - this.latencyMs)
  }

  #setState(next: PeerState): void {
    const prev = this.state
    if (prev === next) return
    this.state = next
    this.#host.metrics.transitions.inc({ to: next })
    this.#host.logger.info({ peer: this.key, from: prev, to: next }, 'peer state')
    this.emit('state', next, prev)
  }

  #failWaiters(reason: string): void {
    for (const w of this.#waiters.splice(0)) w.reject(this.#unreachable(reason))
  }

  #unreachable(reason: string): GatewayError {
    return new GatewayError(
      ErrorCode.PEER_UNREACHABLE,
      `peer ${this.key.slice(0, 8)}… unreachable: ${reason}`,
      {
        details: { peer: this.key },
      },
    )
  }

  #clearTimers(): void {
    if (this.#healthTimer !== null) clearTimeout(this.#healthTimer)
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer)
    this.#healthTimer = null
    this.#retryTimer = null
  }

  /** Live byte counters of the current stream, for scrape-time metrics. */
  liveBytes(): { received: number; sent: number } {
    const raw = this.#stream?.rawStream as
      { bytesReceived?: number; bytesTransmitted?: number } | undefined
    return { received: raw?.bytesReceived ?? 0, sent: raw?.bytesTransmitted ?? 0 }
  }
}

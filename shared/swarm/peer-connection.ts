import { EventEmitter } from 'node:events'
import type { NoiseSecretStream } from 'hyperdht'
import { ErrorCode, GatewayError } from '../errors.js'
import type { OutgoingRequest, RelayChannel } from '../protocol/relay-channel.js'
import type { JsonObject, RelayResponse } from '../protocol/wire.js'
import { backoffDelay } from '../retry/backoff.js'
import { closeStream } from './close-stream.js'
import { createGatewayChannel } from './gateway-channel.js'
import { identifyGateway } from './identify-gateway.js'
import { HandoverSlot } from './link-handover.js'
import { addLinkBytes, liveBytes, livePackets } from './link-counters.js'
import { PeerLiveness } from './peer-liveness.js'
import { trackedRequest } from './peer-request.js'
import type { RequestTracking } from './peer-request.js'
import type { PeerHost, PeerPolicy } from './peer-policy.js'
import { createPeerStats, dialErrorCode, relayWorthy, routeClass } from './peer-stats.js'
import type { LinkLoss, MutablePeerStats, PeerStats } from './peer-stats.js'
import type { PeerState } from './select-peer.js'

export type { PeerHost, PeerPolicy } from './peer-policy.js'

/**
 * One peer's link lifecycle: dial (direct, then through a blind relay when
 * punching fails) or adopt the peer's own inbound link, channel handshake,
 * link probe, health checks, reconnect with backoff. Owned by a PeerPool. It
 * exposes read-only {@link stats} and events; metrics adapters subscribe.
 *
 * Events: `state` (state, previous), `dial` (outcome, code, relayed),
 * `request` (route, outcome, seconds | null), `health` (ok, rttMs | null),
 * `link-lost` (reason), `protocol-error` (err), `wsframe` (frame),
 * `telemetry` (object), `handover` (outcome) when a replaced link has been drained.
 */
export class PeerConnection extends EventEmitter {
  readonly key: string
  readonly publicKey: Buffer
  readonly #policy: PeerPolicy
  readonly #host: PeerHost
  readonly #stats: MutablePeerStats = createPeerStats()
  readonly #liveness: PeerLiveness
  #stream: NoiseSecretStream | null = null
  /** An inbound link waiting to replace the open one once its channel opens. */
  #incoming: NoiseSecretStream | null = null
  #channel: RelayChannel | null = null
  /** A replaced link being drained (the `handover` extension), if any. */
  readonly #handover: HandoverSlot
  #attempt = 0
  #preferRelay = false
  #retryTimer: NodeJS.Timeout | null = null
  #closed = false
  #waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = []
  readonly #tracking: RequestTracking

  constructor(publicKey: Buffer, policy: PeerPolicy, host: PeerHost) {
    super()
    this.publicKey = publicKey
    this.key = publicKey.toString('hex')
    this.#policy = policy
    this.#host = host
    this.#tracking = {
      stats: this.#stats,
      peer: this.key,
      timedOut: () => this.#liveness.check(),
      settled: (channel, route, outcome, seconds) => {
        this.#handover.callSettled(channel)
        this.emit('request', route, outcome, seconds)
      },
    }
    const { handoverGraceMs: graceMs, probeTimeoutMs } = policy
    this.#handover = new HandoverSlot(
      { graceMs, probeTimeoutMs },
      {
        deliver: (frame) => this.emit('wsframe', frame),
        ended: (outcome, stream) => {
          addLinkBytes(this.#stats, stream)
          this.emit('handover', outcome)
        },
      },
    )
    this.#liveness = new PeerLiveness(policy, this.#stats, {
      peer: this.key,
      logger: host.logger,
      channel: () => this.#channel,
      reported: (ok, rttMs) => this.emit('health', ok, rttMs),
      recovered: () => {
        if (this.state === 'unhealthy') this.#setState('ready')
      },
      unhealthy: () => this.#setState('unhealthy'),
      lose: (reason) => this.#lose(reason),
    })
  }

  get state(): PeerState {
    return this.#stats.state
  }

  /** Requests awaiting an answer. */
  get inflight(): number {
    return this.#stats.inflight
  }

  /** Latency used to rank peers: health round trip, else service time. */
  get latencyMs(): number | null {
    return this.#stats.healthRttMs ?? this.#stats.serviceMs
  }

  /** A read-only view of this peer's figures (live; do not cast it writable). */
  get stats(): PeerStats {
    return this.#stats
  }

  /** The open channel, if any. */
  get channel(): RelayChannel | null {
    return this.#channel
  }

  /** The current link while its channel is open: other channels (tunnels) ride it too. */
  get link(): NoiseSecretStream | null {
    return this.isOpen ? this.#stream : null
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
    this.#clearRetry()
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

  /**
   * Takes over a link the peer opened to us (its Noise key was checked by the
   * pool). A link the peer opens wins over ours: the peer dials when it lost
   * its link or cannot be dialled. An open link keeps serving until the new
   * one's channel is up, so sessions do not see the swap.
   */
  adopt(stream: NoiseSecretStream): boolean {
    if (this.#closed) return false
    if (this.isOpen) {
      this.#incoming?.destroy()
      this.#incoming = stream
    } else {
      const dialling = this.#stream
      this.#clearRetry()
      this.#stream = stream
      dialling?.destroy()
      this.#setState('connecting')
    }
    void this.#attach(stream, true, false)
    return true
  }

  /** Sends a request over the open channel, tracking load, latency and outcome. */
  request(req: OutgoingRequest, timeoutMs?: number): Promise<RelayResponse> {
    // While a replaced link drains, new requests wait for it (about a round trip), in use.
    if (this.#handover.holding) {
      this.#stats.lastUsedAt = Date.now()
      return this.#handover.defer(() => this.request(req, timeoutMs))
    }
    // The common case, an open channel, costs no promise or closure here.
    if (!this.isOpen) return this.#requestWhenOpen(req, timeoutMs)
    return trackedRequest(this.#channel as RelayChannel, req, timeoutMs, this.#tracking)
  }

  async #requestWhenOpen(req: OutgoingRequest, timeoutMs?: number): Promise<RelayResponse> {
    await this.whenOpen().catch((err: unknown) => {
      this.#stats.requestFailures++
      this.emit('request', routeClass(req.path), 'unreachable', null)
      throw err
    })
    return this.request(req, timeoutMs)
  }

  /** Sends a wsframe object; false when not open or backed up. */
  sendWsFrame(frame: JsonObject): boolean {
    if (this.#handover.holding) {
      // In order with the requests held before it (a session's CLOSEs, then its close frame).
      this.#handover.later(() => this.#channel?.sendWsFrame(frame))
      return true
    }
    return this.#channel?.sendWsFrame(frame) ?? false
  }

  /**
   * Drives the link probe (the pool calls this for every peer from one
   * timer); drops a link whose peer stopped acknowledging.
   */
  tick(now: number): void {
    this.#liveness.tick(now)
  }

  /** Drops the connection and stops reconnecting. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#clearRetry()
    this.#liveness.stop()
    this.#failWaiters('pool closed')
    const streams = [this.#incoming, this.#stream].filter((s) => s !== null)
    this.#incoming = null
    await Promise.all(streams.map(closeStream))
    await this.#handover.abort()
    this.removeAllListeners()
  }

  #dial(): void {
    this.#setState('connecting')
    const relayed = this.#preferRelay && this.#host.canRelay
    let stream: NoiseSecretStream
    try {
      stream = this.#host.dial(this.publicKey, relayed)
    } catch (err) {
      this.#dialFailed('failed', dialErrorCode(err), relayed)
      this.#host.logger.warn({ peer: this.key, err }, 'dial failed to start')
      this.#down()
      return
    }
    this.#stream = stream
    void this.#attach(stream, false, relayed)
  }

  #current(stream: NoiseSecretStream): boolean {
    return this.#stream === stream || this.#incoming === stream
  }

  async #attach(stream: NoiseSecretStream, inbound: boolean, relayed: boolean): Promise<void> {
    const log = this.#host.logger
    let failure: unknown = null
    stream.on('error', (err: Error) => {
      failure = err
      log.debug({ peer: this.key, err: err.message }, 'peer stream error')
    })
    stream.once('close', () => this.#onStreamClose(stream, inbound, relayed, failure))
    const timer = setTimeout(() => {
      stream.destroy(Object.assign(new Error('open timed out'), { code: 'TIMEOUT' }))
    }, this.#policy.openTimeoutMs)
    try {
      const opened = await stream.opened
      if (!opened || !this.#current(stream)) return
      if (!stream.remotePublicKey.equals(this.publicKey)) {
        this.#dialFailed('key_mismatch', null, relayed)
        log.warn({ peer: this.key }, 'refusing connection: remote key is not the expected peer')
        stream.destroy(new GatewayError(ErrorCode.PEER_KEY_MISMATCH, 'remote key mismatch'))
        return
      }
      const channel = createGatewayChannel(stream, this.#policy, this, log, this.key, (frame) =>
        this.#handover.intercept(channel, frame) ? null : this.emit('wsframe', frame),
      )
      await channel.opened()
      if (!this.#current(stream)) return
      this.#promote(stream, channel, inbound, relayed)
    } catch {
      // The stream's close handler moves us to down and schedules the retry.
      stream.destroy()
    } finally {
      clearTimeout(timer)
    }
  }

  #promote(
    stream: NoiseSecretStream,
    channel: RelayChannel,
    inbound: boolean,
    relayed: boolean,
  ): void {
    const previous = this.#stream
    const previousChannel = this.#channel
    if (this.#incoming === stream) {
      this.#incoming = null
      this.#stream = stream
      // The replaced link's close is ignored: it is no longer current.
      // Order matters: replace() first ends a handover still running, and the requests it
      // held go out on `#channel`, the link about to be drained, before its handover frame.
      if (previous !== null && previous !== stream) {
        if (!this.#handover.replace(previous, previousChannel, channel))
          addLinkBytes(this.#stats, previous)
      }
    }
    this.#channel = channel
    const stats = this.#stats
    stats.inbound = inbound
    stats.relayed = relayed
    if (!inbound) {
      stats.dials++
      this.emit('dial', 'ok', null, relayed)
      if (!relayed) this.#preferRelay = false
    }
    this.#attempt = 0
    this.#setState('ready')
    for (const w of this.#waiters.splice(0)) w.resolve()
    this.#liveness.start(stream)
    if (this.#policy.identify) identifyGateway(channel, this.#policy, this.#host, this.key)
  }

  #onStreamClose(
    stream: NoiseSecretStream,
    inbound: boolean,
    relayed: boolean,
    failure: unknown,
  ): void {
    if (this.#incoming === stream) {
      this.#incoming = null
      return
    }
    if (this.#stream !== stream) return
    addLinkBytes(this.#stats, stream)
    const wasOpen = this.#channel !== null
    this.#stream = null
    this.#channel = null
    // The link that took over failed: what drains has nowhere to go; what waited finds no link.
    void this.#handover.abort()
    this.#liveness.stop()
    if (this.#closed) return
    if (wasOpen) {
      this.emit('link-lost', 'closed' satisfies LinkLoss)
    } else if (this.state === 'connecting' && !inbound) {
      const code = dialErrorCode(failure)
      this.#dialFailed(code === 'TIMEOUT' ? 'timeout' : 'failed', code, relayed)
      // Punching cannot work between these two: go through a blind relay now, no backoff.
      if (!relayed && relayWorthy(code) && this.#host.canRelay) {
        this.#preferRelay = true
        this.#host.logger.info({ peer: this.key, code }, 'direct dial failed; retrying via relay')
        this.#dial()
        return
      }
    }
    this.#down()
  }

  #dialFailed(
    outcome: 'failed' | 'timeout' | 'key_mismatch',
    code: string | null,
    relayed: boolean,
  ) {
    this.#stats.dials++
    this.#stats.dialFailures++
    this.emit('dial', outcome, code, relayed)
  }

  #lose(reason: LinkLoss): void {
    const stream = this.#stream
    if (stream === null) return
    this.emit('link-lost', reason)
    // Reported once: the close handler sees no open channel any more.
    this.#channel = null
    this.#liveness.stop()
    stream.destroy()
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

  #setState(next: PeerState): void {
    const prev = this.#stats.state
    if (prev === next) return
    this.#stats.state = next
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
      { details: { peer: this.key } },
    )
  }

  #clearRetry(): void {
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer)
    this.#retryTimer = null
  }

  /** Live byte counters: closed links plus the current one, for scrape-time metrics. */
  liveBytes(): { received: number; sent: number } {
    return liveBytes(this.#stats, this.#stream)
  }

  /** UDX packets of the current link (acknowledgements included), for idle-traffic figures. */
  livePackets(): { received: number; sent: number; retransmitted: number } {
    return livePackets(this.#stream)
  }
}

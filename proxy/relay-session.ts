import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import type { WebSocket } from 'ws'
import { ErrorCode, GatewayError } from '../shared/errors.js'
import type { Body, Headers, RelayResponse } from '../shared/protocol/wire.js'
import { bodyText, Capability } from '../shared/protocol/wire.js'
import type { Registration } from '../shared/store/gateway-store.js'
import type { PeerLease } from '../shared/swarm/peer-lease.js'
import type { PeerPool } from '../shared/swarm/peer-pool.js'
import type { PeerState } from '../shared/swarm/select-peer.js'
import { CloseCode } from './close-codes.js'
import type { DeliveryMode, LimitName, ProxyMetrics } from './proxy-metrics.js'
import { SubscriptionBook } from './subscription-book.js'

/** Shared, per-process dependencies of every session. */
export interface SessionContext {
  pool: PeerPool
  metrics: ProxyMetrics
  logger: Logger
  maxQueuedMessages: number
  maxBufferedBytes: number
  pollIntervalMs: number
  /** Resolves true when the token may send one more message now. */
  allowMessage(tokenId: string): Promise<boolean>
  /** Synchronous: true when this person (a token's pubkey) may send one more message now. */
  allowPersonMessage(pubkey: string): boolean
  /** Usage accounting per token (aggregated by the caller). */
  countUsage(tokenId: string, messages: number, bytes: number): void
  onClose(session: RelaySession): void
  onFailover(session: RelaySession, from: string, to: string): void
}

/** Who the session is for, settled before the upgrade. */
export interface SessionIdentity {
  registration: Registration
  token: string
  tokenId: string
  tokenPayload: { seq?: unknown; issuedAt?: unknown }
  /** What the worker receives as `x-auth-token`: the token's relayAuthToken, else the token. */
  workerToken: string
  /** The person the token names; null for a share link. */
  pubkey: string | null
  ip: string
}

interface Queued {
  text: string
  message: unknown[]
  /** Subscription bookkeeping done (once, even if a failover retries it). */
  tracked: boolean
}

/** Client messages in flight at once to a worker that offers `pipeline`. */
const PIPELINE_DEPTH = 16
const RETRYABLE = new Set<string>([
  ErrorCode.PEER_UNREACHABLE,
  ErrorCode.CHANNEL_CLOSED,
  ErrorCode.REQUEST_TIMEOUT,
  ErrorCode.PEER_ERROR,
  ErrorCode.NO_PEER_AVAILABLE,
])

/**
 * One client WebSocket bound to one relay: forwards client messages in order
 * through `POST /post/relay`, relays every answer line, receives later output
 * by push or polling, and moves to another worker of the relay when its worker
 * fails, replaying open subscriptions so the client never notices.
 */
export class RelaySession {
  readonly connectionKey = randomBytes(16).toString('hex')
  readonly identity: SessionIdentity
  peer: string | null = null
  #lease: PeerLease | null = null
  /** Cleared by each ping, set by each pong: the registry reaps the silent. */
  alive = true
  readonly #ws: WebSocket
  readonly #ctx: SessionContext
  readonly #headers: Headers
  readonly #postPath: string
  readonly #pollPath: string
  readonly #subs = new SubscriptionBook()
  readonly #queue: Queued[] = []
  /** Messages accepted off the socket but still awaiting the rate limiter. */
  #admitting = 0
  #pumping = false
  #moveReason: string | null = null
  #pollTimer: NodeJS.Timeout | null = null
  #polling = false
  #closed = false

  constructor(ws: WebSocket, identity: SessionIdentity, ctx: SessionContext) {
    this.#ws = ws
    this.identity = identity
    this.#ctx = ctx
    const relayKey = identity.registration.relayKey
    this.#headers = { 'content-type': 'application/json', 'x-auth-token': identity.workerToken }
    this.#postPath = `/post/relay/${relayKey}`
    this.#pollPath = `/get/relay/${relayKey}/${this.connectionKey}`
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Open subscription ids, for tests and diagnostics. */
  get subscriptionIds(): string[] {
    return this.#subs.ids()
  }

  /** Picks a worker; false (and the socket closed 1013) when the relay has none. */
  start(): boolean {
    const peer = this.#ctx.pool.select(this.identity.registration.peers)
    if (peer === null) {
      this.close(CloseCode.NO_PEER, 'no peer available', 'Error: no peer available for this relay')
      return false
    }
    this.peer = peer
    this.#lease = this.#ctx.pool.lease(peer)
    this.#ws.on('message', (data, isBinary) => this.#onClientMessage(data as Buffer, isBinary))
    this.#ws.on('pong', () => {
      this.alive = true
    })
    this.#ws.on('close', () => this.#cleanup())
    this.#ws.on('error', (err) =>
      this.#ctx.logger.debug({ err: err.message }, 'client socket error'),
    )
    return true
  }

  /** Ping tick: a socket that did not answer the last ping is dead. */
  heartbeat(): void {
    if (this.#closed) return
    if (!this.alive) {
      this.#ws.terminate()
      this.#cleanup()
      return
    }
    this.alive = false
    this.#ws.ping()
  }

  /** A line the worker pushed for this session's connectionKey. */
  deliver(line: string): void {
    this.#send(line, 'push')
  }

  /**
   * Our worker changed state. Down: move (or close 1013 when none is left).
   * Unhealthy: move only if a ready worker is there to take the session.
   */
  peerStateChanged(state: PeerState): void {
    if (state === 'down') return this.#requestMove('peer down')
    if (state !== 'unhealthy' || this.peer === null) return
    const pool = this.#ctx.pool
    const other = pool.select(this.identity.registration.peers, new Set([this.peer]))
    if (other !== null && pool.snapshot(other).state === 'ready')
      this.#requestMove('peer unhealthy')
  }

  /** Sends a NOTICE (optional) and closes the socket with `code`. */
  close(code: number, reason: string, notice?: string): void {
    if (this.#closed) return
    if (notice !== undefined && this.#ws.readyState === this.#ws.OPEN) {
      this.#ws.send(JSON.stringify(['NOTICE', notice]))
    }
    this.#ws.close(code, reason)
    this.#cleanup()
  }

  #onClientMessage(data: Buffer, isBinary: boolean): void {
    if (this.#closed) return
    const m = this.#ctx.metrics
    m.messagesIn.inc()
    m.bytesIn.inc(data.length)
    this.#ctx.countUsage(this.identity.tokenId, 1, data.length)
    if (isBinary) return this.#notice('invalid: binary frames are not Nostr messages')
    if (this.#queue.length + this.#admitting >= this.#ctx.maxQueuedMessages) {
      return this.#limit('queue', 'rate-limited: too many messages waiting; slow down')
    }
    const text = data.toString('utf8')
    let message: unknown
    try {
      message = JSON.parse(text)
    } catch {
      return this.#notice('invalid: message is not JSON')
    }
    if (!Array.isArray(message) || typeof message[0] !== 'string') {
      return this.#notice('invalid: message must be a JSON array starting with a verb')
    }
    const person = this.identity.pubkey
    if (person !== null && !this.#ctx.allowPersonMessage(person)) {
      return this.#limit('pubkey_message_rate', 'rate-limited: too many messages from this user')
    }
    // Admission is asynchronous but resolves in arrival order, so order holds.
    this.#admitting++
    this.#ctx.allowMessage(this.identity.tokenId).then(
      (ok) => {
        this.#admitting--
        if (this.#closed) return
        if (!ok) return this.#limit('message_rate', 'rate-limited: too many messages per second')
        this.#queue.push({ text, message: message as unknown[], tracked: false })
        this.#pump()
      },
      () => {
        this.#admitting--
      },
    )
  }

  #requestMove(reason: string): void {
    if (this.#closed || this.#moveReason !== null) return
    this.#moveReason = reason
    this.#pump()
  }

  // Messages go out in batches: one at a time to legacy workers, up to
  // PIPELINE_DEPTH at once to workers that promise per-connection ordering
  // (`pipeline`). Answers are always relayed in the clients' order.
  async #pump(): Promise<void> {
    if (this.#pumping) return
    this.#pumping = true
    // Yield once, so messages that arrived together (admitted in the same
    // microtask wave) leave together in one batch.
    await null
    try {
      while (!this.#closed) {
        if (this.#moveReason !== null) {
          if (!(await this.#failover(this.#moveReason))) return
          continue
        }
        if (this.#queue.length === 0) break
        const batch = this.#takeBatch()
        const results = await Promise.allSettled(batch.map((q) => this.#call(q.text)))
        for (const result of results) {
          if (this.#closed) return
          if (result.status === 'fulfilled') {
            this.#queue.shift()
            this.#relay(result.value)
          } else if (!isRetryable(result.reason)) {
            this.#queue.shift()
            this.#notice(`error: ${(result.reason as Error).message}`)
          } else {
            // This message and the rest of the batch stay queued for the next worker.
            this.#moveReason = (result.reason as Error).message
            break
          }
        }
      }
    } finally {
      this.#pumping = false
    }
    this.#schedulePoll()
  }

  // Tracked when batched, not when admitted, and a batch never touches one
  // subscription twice: a REQ reusing an id must not reset that subscription
  // while the previous answer is still coming.
  #takeBatch(): Queued[] {
    const peer = this.peer === null ? null : this.#ctx.pool.peer(this.peer)
    const depth = peer?.supports(Capability.PIPELINE) === true ? PIPELINE_DEPTH : 1
    const batch: Queued[] = []
    let touched: Set<string> | null = null
    for (const q of this.#queue) {
      if (batch.length >= depth) break
      const [verb, subId] = q.message
      if ((verb === 'REQ' || verb === 'CLOSE') && typeof subId === 'string') {
        touched ??= new Set()
        if (touched.has(subId)) break
        touched.add(subId)
      }
      if (!q.tracked) {
        this.#subs.track(q.message, q.text)
        q.tracked = true
      }
      batch.push(q)
    }
    return batch
  }

  async #call(text: string): Promise<RelayResponse> {
    const started = performance.now()
    const res = await this.#ctx.pool.request(this.peer as string, {
      method: 'POST',
      path: this.#postPath,
      headers: this.#headers,
      body: `{"message":${text},"connectionKey":"${this.connectionKey}"}`,
    })
    this.#ctx.metrics.forwardSeconds.observe((performance.now() - started) / 1000)
    return res
  }

  #relay(res: RelayResponse): void {
    if (res.statusCode !== 200) {
      this.#notice(`error: relay answered ${res.statusCode}${errorText(res.body)}`)
      return
    }
    this.#sendLines(res.body)
  }

  #sendLines(body: Body): void {
    const text = bodyText(body)
    if (text.length === 0) return
    let from = 0
    while (from < text.length && !this.#closed) {
      let to = text.indexOf('\n', from)
      if (to === -1) to = text.length
      if (to > from) this.#send(text.slice(from, to), 'response')
      from = to + 1
    }
  }

  async #failover(reason: string): Promise<boolean> {
    const pool = this.#ctx.pool
    const tried = new Set<string>()
    let current = this.peer as string
    for (;;) {
      tried.add(current)
      const next = pool.select(this.identity.registration.peers, tried)
      if (next === null) {
        this.#ctx.metrics.failovers.inc({ outcome: 'exhausted' })
        this.close(CloseCode.NO_PEER, 'no peer available', `Error: ${reason}`)
        return false
      }
      this.#lease?.release()
      this.#lease = pool.lease(next)
      this.peer = current = next
      this.#ctx.logger.info(
        { connectionKey: this.connectionKey, peer: next, reason },
        'session failover',
      )
      try {
        for (const req of this.#subs.replays()) this.#relay(await this.#call(req))
        this.#ctx.metrics.failovers.inc({ outcome: 'moved' })
        this.#moveReason = null
        this.#ctx.onFailover(this, [...tried][0] as string, next)
        return true
      } catch (err) {
        if (!isRetryable(err)) throw err
        reason = (err as Error).message
      }
    }
  }

  #schedulePoll(): void {
    if (this.#closed || this.#pollTimer !== null || this.#subs.size === 0) return
    if (this.peer === null || this.#ctx.pool.peer(this.peer).supports(Capability.PUSH)) return
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = null
      void this.#poll()
    }, this.#ctx.pollIntervalMs)
  }

  async #poll(): Promise<void> {
    if (this.#closed || this.#polling || this.#pumping) return this.#schedulePoll()
    this.#polling = true
    const peer = this.peer as string
    try {
      this.#ctx.metrics.polls.inc()
      const res = await this.#ctx.pool.request(peer, {
        method: 'GET',
        path: this.#pollPath,
        headers: this.#headers,
      })
      const messages: unknown =
        res.statusCode === 200 && res.body !== null ? JSON.parse(bodyText(res.body)) : []
      // Legacy polling hands back parsed arrays; each is re-serialised once here.
      if (Array.isArray(messages)) for (const m of messages) this.#send(JSON.stringify(m), 'poll')
    } catch (err) {
      if (isRetryable(err) && peer === this.peer) this.#requestMove((err as Error).message)
      else this.#ctx.logger.debug({ err }, 'poll failed')
    } finally {
      this.#polling = false
    }
    this.#schedulePoll()
  }

  #send(line: string, mode: DeliveryMode): void {
    if (this.#closed) return
    if (!this.#subs.admit(line)) return
    const ws = this.#ws
    if (ws.bufferedAmount > this.#ctx.maxBufferedBytes) {
      this.#ctx.metrics.limitHit('slow_client')
      this.close(CloseCode.POLICY, 'client too slow')
      return
    }
    ws.send(line)
    const m = this.#ctx.metrics
    m.messagesOut.inc()
    m.bytesOut.inc(line.length)
    m.delivered(mode)
  }

  #notice(text: string): void {
    if (this.#closed || this.#ws.readyState !== this.#ws.OPEN) return
    this.#ws.send(JSON.stringify(['NOTICE', text]))
  }

  #limit(limit: LimitName, text: string): void {
    this.#ctx.metrics.limitHit(limit)
    this.#notice(text)
  }

  #cleanup(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#pollTimer !== null) clearTimeout(this.#pollTimer)
    this.#pollTimer = null
    this.#queue.length = 0
    this.#ctx.onClose(this)
    const peer = this.peer
    if (peer === null) return
    this.#releaseAtWorker(peer)
    this.#lease?.release()
    this.#lease = null
  }

  // Workers have no disconnect route: CLOSE each subscription (any worker
  // understands that), then, with push, drop the whole connectionKey.
  #releaseAtWorker(peer: string): void {
    const pool = this.#ctx.pool
    for (const subId of this.#subs.ids()) {
      const body = Buffer.from(
        `{"message":${JSON.stringify(['CLOSE', subId])},"connectionKey":"${this.connectionKey}"}`,
      )
      pool
        .request(peer, { method: 'POST', path: this.#postPath, headers: this.#headers, body })
        .catch((err: GatewayError) =>
          this.#ctx.logger.debug({ code: err.code }, 'CLOSE on leave failed'),
        )
    }
    this.#subs.clear()
    if (pool.peer(peer).supports(Capability.PUSH)) {
      pool.sendWsFrame(peer, { connectionKey: this.connectionKey, type: 'close' })
    }
  }
}

function isRetryable(err: unknown): boolean {
  return err instanceof GatewayError && RETRYABLE.has(err.code)
}

function errorText(body: Body): string {
  if (body === null) return ''
  try {
    const parsed = JSON.parse(bodyText(body)) as { error?: unknown }
    return typeof parsed.error === 'string' ? `: ${parsed.error.slice(0, 200)}` : ''
  } catch {
    return ''
  }
}

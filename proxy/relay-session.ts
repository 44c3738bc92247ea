import { randomBytes } from 'node:crypto'
import type { WebSocket } from 'ws'
import { ErrorCode, GatewayError } from '../shared/errors.js'
import type { RelayResponse } from '../shared/protocol/wire.js'
import type { PeerState } from '../shared/swarm/select-peer.js'
import { ClientOutput } from './client-output.js'
import { CloseCode } from './close-codes.js'
import { MessageQueue } from './message-queue.js'
import { MessageRate } from './message-rate.js'
import type { LimitName } from './proxy-metrics.js'
import { refusal } from './refusal.js'
import type { SessionContext, SessionIdentity } from './session-context.js'
import { SessionPoller } from './session-poller.js'
import { SubscriptionBook } from './subscription-book.js'
import { findLink } from './find-link.js'
import type { WorkerLink } from './worker-link.js'

/**
 * Where a session is: waiting for its first worker link, serving, moving to
 * another worker (messages wait), answering what is in flight before a
 * shutdown, or gone.
 */
export type SessionState = 'starting' | 'open' | 'moving' | 'draining' | 'closed'

/** NIP-01: subscription ids are at most 64 characters. */
export const MAX_SUBSCRIPTION_ID_LENGTH = 64
const RETRYABLE = new Set<string>([
  ErrorCode.PEER_UNREACHABLE,
  ErrorCode.CHANNEL_CLOSED,
  ErrorCode.REQUEST_TIMEOUT,
  ErrorCode.PEER_ERROR,
])
export type { SessionContext, SessionIdentity } from './session-context.js'

const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * One client WebSocket bound to one relay: admits client messages, forwards
 * them in order through its {@link WorkerLink}, relays every answer line,
 * answers every refusal in kind, and moves to another worker of the relay when
 * its worker fails, replaying open subscriptions so the client never notices.
 */
export class RelaySession {
  readonly connectionKey = randomBytes(16).toString('hex')
  readonly identity: SessionIdentity
  readonly openedAt = Date.now()
  /** Cleared by each ping, set by each pong: the registry reaps the silent. */
  alive = true
  readonly #ws: WebSocket
  readonly #ctx: SessionContext
  readonly #subs: SubscriptionBook
  readonly #queue = new MessageQueue()
  readonly #rate: MessageRate
  readonly #poller: SessionPoller
  readonly #out: ClientOutput
  #state: SessionState = 'starting'
  #link: WorkerLink | null = null
  #moveReason: string | null = null
  #driving = false
  #expiry: NodeJS.Timeout | null = null
  #drained: (() => void) | null = null

  constructor(ws: WebSocket, identity: SessionIdentity, ctx: SessionContext) {
    this.#ws = ws
    this.identity = identity
    this.#ctx = ctx
    const { limits } = ctx
    this.#subs = new SubscriptionBook(limits.maxSubscriptions)
    this.#rate = new MessageRate(limits.messagesPerSecond, limits.messageBurst)
    this.#out = new ClientOutput(ws, this.#subs, ctx.metrics, limits.maxBufferedBytes, () =>
      this.close(CloseCode.POLICY, 'client too slow'),
    )
    this.#poller = new SessionPoller(
      limits.pollIntervalMs,
      {
        link: () => this.#link,
        wantsOutput: () => this.#subs.size > 0 && this.#state !== 'closed',
        busy: () => this.#driving,
        awaitingEose: () => this.#subs.awaitingEose(),
        deliver: (line) => this.#out.line(line, 'poll'),
        failed: (err, link) => {
          if (isRetryable(err) && link === this.#link) this.#requestMove((err as Error).message)
          else ctx.logger.debug({ err }, 'poll failed')
        },
      },
      ctx.logger,
      ctx.tuning,
    )
  }

  get state(): SessionState {
    return this.#state
  }

  get closed(): boolean {
    return this.#state === 'closed'
  }

  /** The worker this session is linked to, or null while it has none. */
  get peer(): string | null {
    return this.#link?.key ?? null
  }

  /** Open subscription ids, for tests and diagnostics. */
  get subscriptionIds(): string[] {
    return this.#subs.ids()
  }

  /**
   * Starts serving: listens to the socket at once (messages wait while the
   * first worker link comes up) and closes 1013 when the relay has no worker.
   */
  start(): void {
    const ws = this.#ws
    ws.on('message', (data, isBinary) => this.#onClientMessage(data as Buffer, isBinary))
    ws.on('pong', () => {
      this.alive = true
    })
    ws.on('close', (code: number) => this.#finish(code, 'client closed'))
    ws.on('error', (err) => this.#ctx.logger.debug({ err: err.message }, 'client socket error'))
    if (this.identity.registration.peers.length === 0) {
      this.close(CloseCode.NO_PEER, 'no peer available', 'Error: no peer available for this relay')
      return
    }
    const expiresAt = this.identity.tokenPayload.expiresAt
    if (typeof expiresAt === 'number') this.#expireAt(expiresAt)
    if (this.closed) return
    void this.#drive()
  }

  // Timers run on a monotonic clock and may fire a millisecond before the
  // wall clock says expiresAt; re-arm for the rest rather than close early.
  #expireAt(expiresAt: number): void {
    const delay = expiresAt - Date.now()
    if (delay <= 0) return this.close(CloseCode.FORBIDDEN, 'token expired', 'Error: token expired')
    if (delay >= MAX_TIMER_MS) return
    this.#expiry = setTimeout(() => this.#expireAt(expiresAt), delay)
    this.#expiry.unref()
  }

  /** Ping tick: a socket that did not answer the last ping is dead. */
  heartbeat(): void {
    if (this.#state === 'closed') return
    if (!this.alive) {
      this.#ws.terminate()
      this.#finish(1006, 'no pong')
      return
    }
    this.alive = false
    this.#ws.ping()
  }

  /** A line the worker pushed for this session's connectionKey. */
  deliver(line: string): void {
    this.#out.line(line, 'push')
  }

  /**
   * Our worker changed state. Down: move (messages wait meanwhile). Unhealthy:
   * move only if a ready worker is there to take the session.
   */
  peerStateChanged(state: PeerState): void {
    if (state === 'down') return this.#requestMove('peer down')
    const peer = this.peer
    if (state !== 'unhealthy' || peer === null) return
    const pool = this.#ctx.pool
    const other = pool.select(this.identity.registration.peers, new Set([peer]))
    if (other !== null && pool.snapshot(other).state === 'ready')
      this.#requestMove('peer unhealthy')
  }

  /**
   * Shutdown: stop admitting, let what is in flight be answered. Resolves
   * when nothing is left to answer (the caller bounds the wait and closes).
   */
  drain(): Promise<void> {
    if (this.#state === 'closed') return Promise.resolve()
    if (this.#state !== 'open' && this.#state !== 'draining') {
      this.close(CloseCode.GOING_AWAY, 'gateway shutting down')
      return Promise.resolve()
    }
    this.#state = 'draining'
    if (this.#queue.length === 0 && !this.#driving) return Promise.resolve()
    return new Promise((resolve) => (this.#drained = resolve))
  }

  /**
   * Answers every waiting message with `error: <reason>`, sends a NOTICE
   * (optional) and closes the socket with `code`.
   */
  close(code: number, reason: string, notice?: string): void {
    if (this.#state === 'closed') return
    if (this.#ws.readyState === this.#ws.OPEN) {
      for (const q of this.#queue.takeAll()) this.#ws.send(refusal(q.message, 'error', reason))
      if (notice !== undefined) this.#ws.send(JSON.stringify(['NOTICE', notice]))
    }
    this.#ws.close(code, reason)
    this.#finish(code, reason)
  }

  #onClientMessage(data: Buffer, isBinary: boolean): void {
    if (this.#state === 'closed') return
    const { metrics, limits } = this.#ctx
    metrics.messagesIn.inc()
    metrics.bytesIn.inc(data.length)
    this.#ctx.registry.countUsage(this.identity.tokenId, 1, data.length)
    if (isBinary) return this.#out.notice('invalid: binary frames are not Nostr messages')
    const text = data.toString('utf8')
    let message: unknown
    try {
      message = JSON.parse(text)
    } catch {
      return this.#out.notice('invalid: message is not JSON')
    }
    if (!Array.isArray(message) || typeof message[0] !== 'string') {
      return this.#out.notice('invalid: message must be a JSON array starting with a verb')
    }
    if (this.#state === 'draining')
      return this.#out.refuse(message, 'error', 'gateway shutting down')
    const person = this.identity.pubkey
    if (person !== null && this.#ctx.allowPersonMessage?.(person) === false) {
      return this.#limit('pubkey_message_rate', message, 'too many messages from this user')
    }
    const [verb, subId] = message as unknown[]
    const names = (verb === 'REQ' || verb === 'COUNT') && typeof subId === 'string'
    if (names && subId.length > MAX_SUBSCRIPTION_ID_LENGTH) {
      return this.#out.refuse(message, 'invalid', 'subscription id longer than 64 characters')
    }
    if (!this.#rate.take()) {
      return this.#limit('message_rate', message, 'too many messages per second; slow down')
    }
    if (this.#queue.length >= limits.maxQueuedMessages) {
      return this.#limit('queue', message, 'too many messages waiting; slow down')
    }
    if (verb === 'REQ' && names && !this.#subs.claim(subId)) {
      return this.#limit(
        'subscriptions',
        message,
        `too many open subscriptions (at most ${limits.maxSubscriptions})`,
      )
    }
    if (verb === 'CLOSE' && typeof subId === 'string') this.#subs.unclaim(subId)
    this.#queue.push({ text, message, tracked: false })
    if (!this.#driving && this.#state !== 'starting' && this.#state !== 'moving') void this.#drive()
  }

  #requestMove(reason: string): void {
    if (this.#state !== 'open') return
    this.#state = 'moving'
    this.#moveReason = reason
    void this.#drive()
  }

  // The one loop that talks to workers for client messages: it links (at
  // start and on every move) and sends batches, one at a time to legacy
  // workers, up to the pipeline depth to workers that keep per-connection
  // order. Answers are always relayed in the client's order.
  async #drive(): Promise<void> {
    if (this.#driving) return
    this.#driving = true
    // Yield once, so messages that arrived together leave together in one batch.
    await null
    try {
      for (;;) {
        const state = this.#state
        if (state === 'closed') return
        if (state === 'starting' || state === 'moving') {
          if (!(await this.#attach())) return
          continue
        }
        if (this.#queue.length === 0) break
        await this.#sendBatch(this.#link as WorkerLink)
      }
    } catch (err) {
      this.#ctx.logger.error({ err, connectionKey: this.connectionKey }, 'session failed')
      this.close(CloseCode.INTERNAL, 'internal error')
    } finally {
      this.#driving = false
    }
    if (this.#state === 'draining' && this.#queue.length === 0) this.#drained?.()
    this.#poller.schedule()
  }

  async #sendBatch(link: WorkerLink): Promise<void> {
    const batch = this.#queue.takeBatch(link.pipeline, this.#subs)
    const results = await Promise.allSettled(link.postAll(batch.map((q) => q.text)))
    this.#out.batch(() => this.#relayBatch(results))
  }

  #relayBatch(results: ReadonlyArray<PromiseSettledResult<RelayResponse>>): void {
    let chase = false
    for (const result of results) {
      if (this.#state === 'closed') return
      if (result.status === 'fulfilled') {
        const { message } = this.#queue.shift() as { message: unknown[] }
        this.#out.answer(message, result.value)
        // The worker queued this REQ's output for the poll (session-poller.ts, chaseEose).
        if (message[0] === 'REQ' && this.#subs.awaitingEose(message[1] as string)) chase = true
      } else if (!isRetryable(result.reason) || this.#state === 'draining') {
        const q = this.#queue.shift() as { message: unknown[] }
        this.#out.refuse(q.message, 'error', (result.reason as Error).message, true)
      } else {
        // This message and the rest of the batch stay queued for the next worker.
        if (this.#state === 'open') this.#state = 'moving'
        this.#moveReason ??= (result.reason as Error).message
        return
      }
    }
    if (chase) this.#poller.chaseEose()
  }

  // Finds a worker (waiting, bounded, while none is up) and replays the open
  // subscriptions there. False when the wait ran out: the session is closed.
  async #attach(): Promise<boolean> {
    const from = this.#link?.key ?? null
    let reason = this.#moveReason ?? 'no worker link yet'
    const tried = new Set<string>()
    if (from !== null) tried.add(from)
    this.#setLink(null)
    const deadline = Date.now() + this.#ctx.limits.linkWaitMs
    for (;;) {
      const link = await findLink(this.#ctx, this, tried, deadline)
      if (this.#state === 'closed') {
        link?.release()
        return false
      }
      if (link === null) {
        if (from !== null) this.#ctx.metrics.failovers.inc({ outcome: 'exhausted' })
        this.close(CloseCode.NO_PEER, 'no peer available', `Error: ${reason}`)
        return false
      }
      this.#setLink(link)
      try {
        for (const req of this.#subs.replays()) this.#relayReplay(req, await link.post(req))
      } catch (err) {
        if (!isRetryable(err)) throw err
        tried.add(link.key)
        this.#setLink(null)
        reason = (err as Error).message
        continue
      }
      if (this.closed) return false
      this.#state = 'open'
      this.#moveReason = null
      if (from !== null) {
        this.#ctx.metrics.failovers.inc({ outcome: 'moved' })
        this.#ctx.logger.info(
          { connectionKey: this.connectionKey, from, peer: link.key, reason },
          'session failover',
        )
        this.#ctx.registry.moved(this, from, link.key)
      }
      return true
    }
  }

  #setLink(link: WorkerLink | null): void {
    const old = this.#link
    if (old === link) return
    this.#link = link
    old?.release()
    this.#ctx.registry.linked(this, old?.key ?? null, link?.key ?? null)
  }

  #relayReplay(req: string, res: RelayResponse): void {
    this.#out.answer(res.statusCode === 200 ? [] : (JSON.parse(req) as unknown[]), res)
  }

  #limit(limit: LimitName, message: unknown[], text: string): void {
    this.#ctx.metrics.limitHit(limit)
    this.#out.refuse(message, 'rate-limited', text)
  }

  #finish(code: number, reason: string): void {
    if (this.#state === 'closed') return
    this.#state = 'closed'
    this.#out.stop()
    if (this.#expiry !== null) clearTimeout(this.#expiry)
    this.#expiry = null
    this.#poller.stop()
    this.#queue.takeAll()
    const link = this.#link
    if (link !== null) link.leave(this.#subs.ids(), this.#ctx.logger)
    this.#setLink(null)
    this.#subs.clear()
    this.#ctx.metrics.sessionsClosed.inc({ code: String(code) })
    this.#ctx.logger.info(
      {
        connectionKey: this.connectionKey,
        relayKey: this.identity.registration.relayKey,
        ip: this.identity.ip,
        code,
        reason,
        durationMs: Date.now() - this.openedAt,
      },
      'session closed',
    )
    this.#ctx.registry.closed(this)
    this.#drained?.()
  }
}

function isRetryable(err: unknown): boolean {
  return err instanceof GatewayError && RETRYABLE.has(err.code)
}

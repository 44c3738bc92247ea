import type { Logger } from 'pino'
import type { GatewayError } from '../shared/errors.js'
import type { Headers, RelayResponse } from '../shared/protocol/wire.js'
import { bodyText, Capability } from '../shared/protocol/wire.js'
import type { PeerLease } from '../shared/swarm/peer-lease.js'
import { pipelinePolicy } from './batch-plan.js'
import type { PipelinePolicy } from './batch-plan.js'
import { acceptsEvent } from './poll-trigger.js'
import type { ProxyMetrics } from './proxy-metrics.js'
import type { SessionTuning } from './session-tuning.js'

/** What a session needs of a pooled worker connection; a PeerLease has it. */
export type WorkerLease = Pick<
  PeerLease,
  'key' | 'request' | 'sendWsFrame' | 'supports' | 'release'
> &
  Partial<Pick<PeerLease, 'cork' | 'uncork'>>

const NO_LEGACY_PIPELINE = { depth: 1, offRelays: new Set<string>() }

/**
 * A session's side of one worker: the lease it was given (never a lookup by
 * key per message), the relay's routes for this connectionKey, and the
 * legacy headers. Released exactly once, when the session moves or ends.
 */
export class WorkerLink {
  readonly key: string
  readonly #lease: WorkerLease
  readonly #metrics: ProxyMetrics
  readonly #connectionKey: string
  readonly #headers: Headers
  readonly #postPath: string
  readonly #pollPath: string
  readonly #relay: { relayKey: string; gatewayPath?: string | undefined }
  readonly #tuning: SessionTuning | undefined

  constructor(
    lease: WorkerLease,
    session: { relayKey: string; connectionKey: string; token: string; gatewayPath?: string },
    metrics: ProxyMetrics,
    tuning?: SessionTuning,
  ) {
    this.key = lease.key
    this.#lease = lease
    this.#metrics = metrics
    this.#tuning = tuning
    this.#relay = { relayKey: session.relayKey, gatewayPath: session.gatewayPath }
    this.#connectionKey = session.connectionKey
    this.#headers = { 'content-type': 'application/json', 'x-auth-token': session.token }
    this.#postPath = `/post/relay/${session.relayKey}`
    this.#pollPath = `/get/relay/${session.relayKey}/${session.connectionKey}`
  }

  /** How many of the client's messages may be in flight at once, and under which rules. */
  get pipeline(): PipelinePolicy {
    const legacy = this.#tuning?.legacyPipeline ?? NO_LEGACY_PIPELINE
    return pipelinePolicy(this.#lease.supports(Capability.PIPELINE), this.#relay, legacy)
  }

  /** The worker pushes output, so the session never polls. */
  get pushes(): boolean {
    return this.#lease.supports(Capability.PUSH)
  }

  /** Forwards one client message (its text, spliced without re-encoding). */
  async post(text: string): Promise<RelayResponse> {
    const started = performance.now()
    const res = await this.#lease.request({
      method: 'POST',
      path: this.#postPath,
      headers: this.#headers,
      body: `{"message":${text},"connectionKey":"${this.#connectionKey}"}`,
    })
    this.#metrics.forwardSeconds.observe((performance.now() - started) / 1000)
    // An accepted EVENT: sessions polling this worker may have it queued now.
    const trigger = this.#tuning?.trigger
    if (trigger != null && text.startsWith('["EVENT"') && acceptsEvent(bodyText(res.body))) {
      trigger.accepted(this.key)
    }
    return res
  }

  /** Forwards a batch of client messages; several leave corked, in one write. */
  postAll(texts: readonly string[]): Array<Promise<RelayResponse>> {
    if (texts.length < 2 || this.#lease.cork === undefined) return texts.map((t) => this.post(t))
    this.#lease.cork()
    try {
      return texts.map((t) => this.post(t))
    } finally {
      this.#lease.uncork?.()
    }
  }

  /** One legacy `GET /get/relay` poll for output queued at the worker. */
  poll(): Promise<RelayResponse> {
    this.#metrics.polls.inc()
    return this.#lease.request({ method: 'GET', path: this.#pollPath, headers: this.#headers })
  }

  // Workers have no disconnect route: CLOSE each subscription (any worker
  // understands that), then, with push, drop the whole connectionKey.
  /** Tells the worker the session left; fire and forget. */
  leave(subIds: readonly string[], logger: Logger): void {
    for (const subId of subIds) {
      this.post(JSON.stringify(['CLOSE', subId])).catch((err: GatewayError) =>
        logger.debug({ code: err.code }, 'CLOSE on leave failed'),
      )
    }
    if (this.pushes) this.#lease.sendWsFrame({ connectionKey: this.#connectionKey, type: 'close' })
  }

  /** Gives the lease back; idempotent like the lease itself. */
  release(): void {
    this.#lease.release()
  }
}

import type { Logger } from 'pino'
import type { GatewayError } from '../shared/errors.js'
import type { Headers, RelayResponse } from '../shared/protocol/wire.js'
import { Capability } from '../shared/protocol/wire.js'
import type { PeerLease } from '../shared/swarm/peer-lease.js'
import type { ProxyMetrics } from './proxy-metrics.js'

/** What a session needs of a pooled worker connection; a PeerLease has it. */
export type WorkerLease = Pick<
  PeerLease,
  'key' | 'request' | 'sendWsFrame' | 'supports' | 'release'
>

/** Client messages in flight at once to a worker that offers `pipeline`. */
export const PIPELINE_DEPTH = 16

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

  constructor(
    lease: WorkerLease,
    session: { relayKey: string; connectionKey: string; token: string },
    metrics: ProxyMetrics,
  ) {
    this.key = lease.key
    this.#lease = lease
    this.#metrics = metrics
    this.#connectionKey = session.connectionKey
    this.#headers = { 'content-type': 'application/json', 'x-auth-token': session.token }
    this.#postPath = `/post/relay/${session.relayKey}`
    this.#pollPath = `/get/relay/${session.relayKey}/${session.connectionKey}`
  }

  /** How many of the client's messages may be in flight at once. */
  get pipelineDepth(): number {
    return this.#lease.supports(Capability.PIPELINE) ? PIPELINE_DEPTH : 1
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
    return res
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

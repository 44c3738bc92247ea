import type { EventEmitter } from 'node:events'
import { Counter, Gauge, Histogram } from 'prom-client'
import type { Registry } from 'prom-client'
import type { PeerConnection } from './peer-connection.js'
import type { HandoverOutcome } from './link-handover.js'
import type { DialOutcome, LinkLoss, RequestOutcome, RouteClass } from './peer-stats.js'
import type { PeerState } from './select-peer.js'

export { routeClass } from './peer-stats.js'
export type { RequestOutcome, RouteClass } from './peer-stats.js'

/** Live figures the pool exposes for scrape-time collection. */
export interface PoolStatsSource {
  countByState(): Record<PeerState, number>
  bytes(): { received: number; sent: number }
}

/** The pool as the adapter sees it: `peer` / `peer-removed` (connection), `inbound` (outcome). */
export interface PoolEvents extends EventEmitter {
  connections(): Iterable<PeerConnection>
}

const STATES: PeerState[] = ['connecting', 'ready', 'unhealthy', 'down']

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- event arguments vary per event
type Listener = (...args: any[]) => void

/**
 * The pool's metrics adapter: registers `hypertuna_gateway_pool_*` on the
 * process's one registry and subscribes to the pool's and its connections'
 * events. Transport code never calls it.
 */
export class PoolMetrics {
  readonly #dials: Counter<'outcome'>
  readonly #dialFailures: Counter<'code' | 'path'>
  readonly #inbound: Counter<'outcome'>
  readonly #linkLost: Counter<'reason'>
  readonly #handovers: Counter<'outcome'>
  readonly #transitions: Counter<'to'>
  readonly #healthChecks: Counter<'outcome'>
  readonly #healthLatency: Histogram
  readonly #requestLatency: Histogram<'route'>
  readonly #protocolErrors: Counter
  readonly #requests: Counter<'route' | 'outcome'>
  // One child per label pair, so the per-message path builds no label objects
  // (prom-client still hashes the labels on each inc; ~0.1 us).
  readonly #requestChildren = new Map<string, { inc(): void }>()
  readonly #latencyChildren = new Map<string, { observe(v: number): void }>()
  readonly #subscriptions = new Map<PeerConnection, Array<[string, Listener]>>()
  #pool: PoolEvents | null = null
  readonly #onPeer = (conn: PeerConnection): void => this.#observe(conn)
  readonly #onPeerRemoved = (conn: PeerConnection): void => this.#unobserve(conn)
  readonly #onInbound = (outcome: string): void => this.#inbound.inc({ outcome })

  constructor(registry: Registry, source: PoolStatsSource) {
    const registers = [registry]
    new Gauge({
      name: 'hypertuna_gateway_pool_peers',
      help: 'Pooled peers by state',
      labelNames: ['state'],
      registers,
      collect() {
        const counts = source.countByState()
        for (const s of STATES) this.set({ state: s }, counts[s])
      },
    })
    const bytes = source.bytes.bind(source)
    new Counter({
      name: 'hypertuna_gateway_pool_bytes_total',
      help: 'Bytes exchanged with peers over Hyperswarm (after encryption framing)',
      labelNames: ['direction'],
      registers,
      collect() {
        const b = bytes()
        this.reset()
        this.inc({ direction: 'in' }, b.received)
        this.inc({ direction: 'out' }, b.sent)
      },
    })
    this.#dials = new Counter({
      name: 'hypertuna_gateway_pool_dials_total',
      help: 'Dial attempts by outcome (ok, failed, timeout, key_mismatch)',
      labelNames: ['outcome'],
      registers,
    })
    this.#dialFailures = new Counter({
      name: 'hypertuna_gateway_pool_dial_failures_total',
      help: 'Failed dial attempts by HyperDHT error code (TIMEOUT: our per-attempt deadline; OTHER: anything else) and path (direct, relay)',
      labelNames: ['code', 'path'],
      registers,
    })
    this.#inbound = new Counter({
      name: 'hypertuna_gateway_pool_inbound_total',
      help: 'Links peers opened to the gateway, by outcome (accepted: a registered key; refused)',
      labelNames: ['outcome'],
      registers,
    })
    this.#linkLost = new Counter({
      name: 'hypertuna_gateway_pool_links_lost_total',
      help: 'Open links dropped, by reason (closed, probe: transport stopped acknowledging, health, replaced)',
      labelNames: ['reason'],
      registers,
    })
    this.#handovers = new Counter({
      name: 'hypertuna_gateway_pool_handovers_total',
      help: 'Replaced links drained (handover), by outcome (acked; closed: the old link went first; lost: it stopped acknowledging; timeout; aborted)',
      labelNames: ['outcome'],
      registers,
    })
    this.#transitions = new Counter({
      name: 'hypertuna_gateway_pool_peer_transitions_total',
      help: 'Peer state transitions by new state',
      labelNames: ['to'],
      registers,
    })
    this.#healthChecks = new Counter({
      name: 'hypertuna_gateway_pool_health_checks_total',
      help: 'Health checks by outcome (ok, failed)',
      labelNames: ['outcome'],
      registers,
    })
    this.#healthLatency = new Histogram({
      name: 'hypertuna_gateway_pool_health_check_seconds',
      help: 'Health check round-trip time',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    })
    this.#requests = new Counter({
      name: 'hypertuna_gateway_pool_requests_total',
      help: 'Requests to peers by route class and outcome',
      labelNames: ['route', 'outcome'],
      registers,
    })
    this.#requestLatency = new Histogram({
      name: 'hypertuna_gateway_pool_request_seconds',
      help: 'Request service time (sent to answered) at peers by route class',
      labelNames: ['route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    })
    this.#protocolErrors = new Counter({
      name: 'hypertuna_gateway_pool_protocol_errors_total',
      help: 'Undecodable messages received from peers',
      registers,
    })
  }

  /** Subscribes to `pool` and every connection it has or creates. */
  attach(pool: PoolEvents): this {
    if (this.#pool !== null) return this
    this.#pool = pool
    pool.on('peer', this.#onPeer)
    pool.on('peer-removed', this.#onPeerRemoved)
    pool.on('inbound', this.#onInbound)
    for (const conn of pool.connections()) this.#observe(conn)
    return this
  }

  /** Removes every listener {@link attach} added. Idempotent. */
  detach(): void {
    const pool = this.#pool
    if (pool === null) return
    this.#pool = null
    pool.off('peer', this.#onPeer)
    pool.off('peer-removed', this.#onPeerRemoved)
    pool.off('inbound', this.#onInbound)
    for (const conn of [...this.#subscriptions.keys()]) this.#unobserve(conn)
  }

  /** Counts one finished request. */
  request(route: RouteClass, outcome: RequestOutcome, seconds: number | null): void {
    const key = route + outcome
    let child = this.#requestChildren.get(key)
    if (child === undefined) {
      child = this.#requests.labels(route, outcome)
      this.#requestChildren.set(key, child)
    }
    child.inc()
    if (seconds === null) return
    let latency = this.#latencyChildren.get(route)
    if (latency === undefined) {
      latency = this.#requestLatency.labels(route)
      this.#latencyChildren.set(route, latency)
    }
    latency.observe(seconds)
  }

  #observe(conn: PeerConnection): void {
    if (this.#subscriptions.has(conn)) return
    const listeners: Array<[string, Listener]> = [
      [
        'request',
        (route: RouteClass, outcome: RequestOutcome, s: number | null) =>
          this.request(route, outcome, s),
      ],
      [
        'dial',
        (outcome: DialOutcome, code: string | null, relayed: boolean) => {
          this.#dials.inc({ outcome })
          if (code !== null) this.#dialFailures.inc({ code, path: relayed ? 'relay' : 'direct' })
        },
      ],
      [
        'health',
        (ok: boolean, rttMs: number | null) => {
          this.#healthChecks.inc({ outcome: ok ? 'ok' : 'failed' })
          if (rttMs !== null) this.#healthLatency.observe(rttMs / 1000)
        },
      ],
      ['state', (to: PeerState) => this.#transitions.inc({ to })],
      ['link-lost', (reason: LinkLoss) => this.#linkLost.inc({ reason })],
      ['handover', (outcome: HandoverOutcome) => this.#handovers.inc({ outcome })],
      ['protocol-error', () => this.#protocolErrors.inc()],
    ]
    for (const [event, fn] of listeners) conn.on(event, fn)
    this.#subscriptions.set(conn, listeners)
  }

  #unobserve(conn: PeerConnection): void {
    const listeners = this.#subscriptions.get(conn)
    if (listeners === undefined) return
    this.#subscriptions.delete(conn)
    for (const [event, fn] of listeners) conn.off(event, fn)
  }
}

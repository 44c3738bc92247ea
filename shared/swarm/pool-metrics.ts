import { Counter, Gauge, Histogram } from 'prom-client'
import type { Registry } from 'prom-client'
import type { PeerState } from './select-peer.js'

/** Bounded route classes used as a metric label (never the raw path). */
export type RouteClass =
  'relay_post' | 'relay_get' | 'drive' | 'pfp' | 'identify' | 'health' | 'other'

/** Bounded request outcomes used as a metric label. */
export type RequestOutcome = 'ok' | 'peer_error' | 'timeout' | 'closed' | 'unreachable'

/** Maps a worker path to its bounded route class. */
export function routeClass(path: string): RouteClass {
  if (path.startsWith('/post/relay/')) return 'relay_post'
  if (path.startsWith('/get/relay/')) return 'relay_get'
  if (path.startsWith('/drive/')) return 'drive'
  if (path.startsWith('/pfp/')) return 'pfp'
  if (path === '/identify-gateway') return 'identify'
  if (path === '/health') return 'health'
  return 'other'
}

/** Live figures the pool exposes for scrape-time collection. */
export interface PoolStatsSource {
  countByState(): Record<PeerState, number>
  bytes(): { received: number; sent: number }
}

const STATES: PeerState[] = ['connecting', 'ready', 'unhealthy', 'down']

/** The pool's metrics, registered on the process's one registry. */
export class PoolMetrics {
  readonly dials: Counter<'outcome'>
  readonly transitions: Counter<'to'>
  readonly healthChecks: Counter<'outcome'>
  readonly healthLatency: Histogram
  readonly requestLatency: Histogram<'route'>
  readonly protocolErrors: Counter
  readonly #requests: Counter<'route' | 'outcome'>
  // One child per label pair, so the per-message path builds no label objects
  // (prom-client still hashes the labels on each inc; ~0.1 us).
  readonly #requestChildren = new Map<string, { inc(): void }>()
  readonly #latencyChildren = new Map<string, { observe(v: number): void }>()

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
    this.dials = new Counter({
      name: 'hypertuna_gateway_pool_dials_total',
      help: 'Dial attempts by outcome (ok, failed, timeout, key_mismatch)',
      labelNames: ['outcome'],
      registers,
    })
    this.transitions = new Counter({
      name: 'hypertuna_gateway_pool_peer_transitions_total',
      help: 'Peer state transitions by new state',
      labelNames: ['to'],
      registers,
    })
    this.healthChecks = new Counter({
      name: 'hypertuna_gateway_pool_health_checks_total',
      help: 'Health checks by outcome (ok, failed)',
      labelNames: ['outcome'],
      registers,
    })
    this.healthLatency = new Histogram({
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
    this.requestLatency = new Histogram({
      name: 'hypertuna_gateway_pool_request_seconds',
      help: 'Request round-trip time to peers by route class',
      labelNames: ['route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    })
    this.protocolErrors = new Counter({
      name: 'hypertuna_gateway_pool_protocol_errors_total',
      help: 'Undecodable messages received from peers',
      registers,
    })
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
      latency = this.requestLatency.labels(route)
      this.#latencyChildren.set(route, latency)
    }
    latency.observe(seconds)
  }
}

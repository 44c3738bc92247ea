import { Counter, Gauge, Histogram } from 'prom-client'
import type { Registry } from 'prom-client'

/** Why a token was refused (bounded label values). */
export type TokenRejection =
  'missing' | 'malformed' | 'bad-signature' | 'expired' | 'wrong-relay' | 'revoked'

/** Which limit a client hit (bounded label values). */
export type LimitName =
  | 'frame_size'
  | 'queue'
  | 'slow_client'
  | 'sessions_per_token'
  | 'sessions_per_ip'
  | 'message_rate'
  | 'sessions_per_pubkey'
  | 'session_open_rate'
  | 'pubkey_message_rate'
  | 'subscriptions'
  | 'tunnel_bytes_rate'

/** How output reached a client (bounded label values). */
export type DeliveryMode = 'response' | 'push' | 'poll'

/** The proxy's metrics, on the process's one registry. */
export class ProxyMetrics {
  readonly sessions: Gauge
  readonly sessionsOpened: Counter
  readonly sessionsClosed: Counter<'code'>
  readonly sessionsRefused: Counter<'code'>
  readonly forwardSeconds: Histogram
  readonly failovers: Counter<'outcome'>
  readonly httpForwards: Counter<'route' | 'status'>
  readonly polls: Counter
  readonly workerSecretsUnreadable: Counter
  // The per-message counters are plain numbers, published when /metrics is
  // scraped: a prom-client inc() hashes its labels every time, even on a child.
  readonly messagesIn = { value: 0, inc: (n = 1) => void (this.messagesIn.value += n) }
  readonly messagesOut = { value: 0, inc: (n = 1) => void (this.messagesOut.value += n) }
  readonly bytesIn = { value: 0, inc: (n = 1) => void (this.bytesIn.value += n) }
  readonly bytesOut = { value: 0, inc: (n = 1) => void (this.bytesOut.value += n) }
  readonly #deliveredCount: Record<DeliveryMode, number> = { response: 0, push: 0, poll: 0 }
  readonly #tokenRejections: Counter<'reason'>
  readonly #limitHits: Counter<'limit'>

  constructor(registry: Registry) {
    const registers = [registry]
    this.sessions = new Gauge({
      name: 'hypertuna_gateway_proxy_sessions',
      help: 'Open client WebSocket sessions',
      registers,
    })
    this.sessionsOpened = new Counter({
      name: 'hypertuna_gateway_proxy_sessions_opened_total',
      help: 'Client WebSocket sessions accepted',
      registers,
    })
    this.sessionsClosed = new Counter({
      name: 'hypertuna_gateway_proxy_sessions_closed_total',
      help: 'Accepted client WebSocket sessions that ended, by close code',
      labelNames: ['code'],
      registers,
    })
    this.sessionsRefused = new Counter({
      name: 'hypertuna_gateway_proxy_sessions_refused_total',
      help: 'Client WebSocket upgrades refused before a session began, by close code',
      labelNames: ['code'],
      registers,
    })
    const counts = { messagesIn: this.messagesIn, messagesOut: this.messagesOut }
    new Counter({
      name: 'hypertuna_gateway_proxy_messages_total',
      help: 'Nostr messages relayed, by direction (in: from clients, out: to clients)',
      labelNames: ['direction'],
      registers,
      collect() {
        this.reset()
        this.inc({ direction: 'in' }, counts.messagesIn.value)
        this.inc({ direction: 'out' }, counts.messagesOut.value)
      },
    })
    const bytes = { bytesIn: this.bytesIn, bytesOut: this.bytesOut }
    new Counter({
      name: 'hypertuna_gateway_proxy_bytes_total',
      help: 'WebSocket payload bytes relayed, by direction',
      labelNames: ['direction'],
      registers,
      collect() {
        this.reset()
        this.inc({ direction: 'in' }, bytes.bytesIn.value)
        this.inc({ direction: 'out' }, bytes.bytesOut.value)
      },
    })
    this.forwardSeconds = new Histogram({
      name: 'hypertuna_gateway_proxy_forward_seconds',
      help: 'Time from a client message to the worker answer being sent back',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    })
    const delivered = this.#deliveredCount
    new Counter({
      name: 'hypertuna_gateway_proxy_deliveries_total',
      help: 'Relay messages delivered to clients, by path (response, push, poll)',
      labelNames: ['mode'],
      registers,
      collect() {
        this.reset()
        for (const mode of ['response', 'push', 'poll'] as const)
          this.inc({ mode }, delivered[mode])
      },
    })
    this.polls = new Counter({
      name: 'hypertuna_gateway_proxy_polls_total',
      help: 'GET /get/relay polls sent to workers without push',
      registers,
    })
    this.failovers = new Counter({
      name: 'hypertuna_gateway_proxy_failovers_total',
      help: 'Sessions moved to another worker, by outcome (moved, exhausted)',
      labelNames: ['outcome'],
      registers,
    })
    this.#tokenRejections = new Counter({
      name: 'hypertuna_gateway_proxy_token_rejections_total',
      help: 'Connections refused for their token, by reason',
      labelNames: ['reason'],
      registers,
    })
    this.#limitHits = new Counter({
      name: 'hypertuna_gateway_proxy_limit_hits_total',
      help: 'Client limits enforced, by limit',
      labelNames: ['limit'],
      registers,
    })
    this.workerSecretsUnreadable = new Counter({
      name: 'hypertuna_gateway_proxy_worker_secrets_unreadable_total',
      help: 'Look-ups of a worker account secret that did not open with GATEWAY_WORKER_SECRET_KEY (its relays are refused 4404)',
      registers,
    })
    this.httpForwards = new Counter({
      name: 'hypertuna_gateway_proxy_http_forwards_total',
      help: 'HTTP requests forwarded to workers, by route and status class',
      labelNames: ['route', 'status'],
      registers,
    })
  }

  delivered(mode: DeliveryMode, n = 1): void {
    this.#deliveredCount[mode] += n
  }

  tokenRejected(reason: TokenRejection): void {
    this.#tokenRejections.inc({ reason })
  }

  limitHit(limit: LimitName): void {
    this.#limitHits.inc({ limit })
  }
}

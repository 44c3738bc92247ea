import type { Logger } from 'pino'
import type { GatewayStore, PeerReportEntry, ProxyReport } from '../shared/store/gateway-store.js'
import type { PeerPool } from '../shared/swarm/peer-pool.js'
import type { PeerState } from '../shared/swarm/select-peer.js'
import type { SessionRegistry } from './session-registry.js'

/** Options of {@link ProxyReporter}. */
export interface ProxyReporterOptions {
  pool: PeerPool
  sessions: SessionRegistry
  store: GatewayStore
  logger: Logger
  /** How often the report is rewritten. Default 10 s. */
  intervalMs?: number
  /** Clock of `reportedAt`. Default Date.now. */
  now?: () => number
}

const STATES: readonly PeerState[] = ['connecting', 'ready', 'unhealthy', 'down']

/**
 * Writes this proxy's view (pooled workers and their link state, live sessions per relay) to
 * the store every `intervalMs`, with a TTL of three intervals, so the registrar's admin API can
 * show what the proxies see. One small write per interval, whatever the traffic.
 */
export class ProxyReporter {
  readonly #o: ProxyReporterOptions
  readonly #intervalMs: number
  #timer: NodeJS.Timeout | null = null
  #closed = false

  constructor(options: ProxyReporterOptions) {
    this.#o = options
    this.#intervalMs = options.intervalMs ?? 10_000
  }

  /** Writes a first report, then one per interval. */
  start(): void {
    if (this.#timer !== null || this.#closed) return
    void this.report()
    this.#timer = setInterval(() => void this.report(), this.#intervalMs)
    this.#timer.unref()
  }

  /** This proxy's view now. */
  snapshot(): ProxyReport {
    const { pool, sessions } = this.#o
    const peers: Record<string, PeerReportEntry> = {}
    for (const state of STATES) {
      for (const key of pool.keysInState(state)) {
        const s = pool.snapshot(key)
        peers[key] = { state, sessions: s.sessions, latencyMs: s.latencyMs }
      }
    }
    const relays: Record<string, number> = {}
    for (const session of sessions.list()) {
      const relayKey = session.identity.registration.relayKey
      relays[relayKey] = (relays[relayKey] ?? 0) + 1
    }
    return {
      proxyId: pool.publicKey,
      reportedAt: (this.#o.now ?? Date.now)(),
      sessions: sessions.size,
      relays,
      peers,
    }
  }

  /** Writes the report now; a store failure is logged and the next interval tries again. */
  async report(): Promise<void> {
    if (this.#closed) return
    try {
      await this.#o.store.putProxyReport(this.snapshot(), (this.#intervalMs * 3) / 1000)
    } catch (err) {
      this.#o.logger.warn({ err }, 'proxy report not written')
    }
  }

  /** Stops reporting (the last report lapses by itself). Idempotent. */
  close(): void {
    this.#closed = true
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
  }
}

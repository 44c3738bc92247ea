import type {
  ProxyReport,
  Registration,
  TokenState,
  UsageCounters,
} from '../shared/store/gateway-store.js'

/** One relay in the admin list. */
export interface RelaySummary {
  relayKey: string
  gatewayPath: string | null
  name: string | null
  peers: number
  /** Peers some proxy reports `ready`. */
  readyPeers: number
  /** Live client sessions across the reporting proxies. */
  sessions: number
  expiresAt: number
  /** The worker account that owns the relay; null: unowned (shared secret). */
  workerId: string | null
}

/** How one proxy sees one peer. */
export interface PeerView {
  proxyId: string
  state: string
  sessions: number
  latencyMs: number | null
  reportedAt: number
}

/** One relay in full, as `GET /api/admin/relays/:relayKey` answers it. */
export interface RelayDetail {
  registration: Registration
  ttlMs: number
  /** Per registered peer: what each reporting proxy says (empty: no proxy has dialled it). */
  peers: Array<{ key: string; reachable: boolean; proxies: PeerView[] }>
  sessions: { total: number; byProxy: Record<string, number> }
  usage: UsageCounters
  tokens: TokenState
}

/** The gateway as a whole, for `GET /api/admin/status`. */
export interface GatewayStatus {
  relays: number
  sessions: number
  proxies: Array<{
    proxyId: string
    reportedAt: number
    sessions: number
    peers: Record<string, number>
  }>
}

/** The relay list entry from its registration and the proxies' reports. */
export function relaySummary(registration: Registration, reports: ProxyReport[]): RelaySummary {
  const meta = registration.metadata
  const ready = registration.peers.filter((key) =>
    reports.some((r) => r.peers[key]?.state === 'ready'),
  ).length
  return {
    relayKey: registration.relayKey,
    gatewayPath: typeof meta.gatewayPath === 'string' ? meta.gatewayPath : null,
    name: typeof meta.name === 'string' ? meta.name : null,
    peers: registration.peers.length,
    readyPeers: ready,
    sessions: reports.reduce((n, r) => n + (r.relays[registration.relayKey] ?? 0), 0),
    expiresAt: registration.expiresAt,
    workerId: registration.workerId ?? null,
  }
}

/** The peers of a registration, each with every proxy's view of it. */
export function peerViews(
  registration: Registration,
  reports: ProxyReport[],
): RelayDetail['peers'] {
  return registration.peers.map((key) => {
    const proxies: PeerView[] = []
    for (const report of reports) {
      const entry = report.peers[key]
      if (entry === undefined) continue
      proxies.push({ proxyId: report.proxyId, reportedAt: report.reportedAt, ...entry })
    }
    return { key, reachable: proxies.some((p) => p.state === 'ready'), proxies }
  })
}

/** Live sessions of one relay per proxy. */
export function relaySessions(relayKey: string, reports: ProxyReport[]): RelayDetail['sessions'] {
  const byProxy: Record<string, number> = {}
  let total = 0
  for (const report of reports) {
    const n = report.relays[relayKey] ?? 0
    if (n === 0) continue
    byProxy[report.proxyId] = n
    total += n
  }
  return { total, byProxy }
}

/** The gateway-wide summary. */
export function gatewayStatus(relays: number, reports: ProxyReport[]): GatewayStatus {
  return {
    relays,
    sessions: reports.reduce((n, r) => n + r.sessions, 0),
    proxies: reports
      .map((r) => {
        const peers: Record<string, number> = {}
        for (const entry of Object.values(r.peers))
          peers[entry.state] = (peers[entry.state] ?? 0) + 1
        return { proxyId: r.proxyId, reportedAt: r.reportedAt, sessions: r.sessions, peers }
      })
      .sort((a, b) => a.proxyId.localeCompare(b.proxyId)),
  }
}

/** Relays sorted by key, the page after `cursor` (exclusive) of at most `limit`. */
export function pageOf<T extends { relayKey: string }>(
  items: T[],
  limit: number,
  cursor: string | undefined,
): { items: T[]; nextCursor: string | null } {
  const sorted = [...items].sort((a, b) =>
    a.relayKey < b.relayKey ? -1 : a.relayKey > b.relayKey ? 1 : 0,
  )
  const start = cursor === undefined ? 0 : sorted.findIndex((r) => r.relayKey > cursor)
  const from = start === -1 ? sorted.length : start
  const page = sorted.slice(from, from + limit)
  const more = from + limit < sorted.length
  return { items: page, nextCursor: more ? (page.at(-1)?.relayKey ?? null) : null }
}

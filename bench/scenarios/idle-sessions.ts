import { sleep } from '../sleep.js'
import { BenchSocket, isEose } from '../ws-client.js'
import type { BenchGateway } from '../gateway-process.js'
import { histogramMean, ratePerSecond } from '../metrics-scrape.js'
import type { MetricsSnapshot } from '../metrics-scrape.js'

/** Options of {@link openIdleSessions}. */
export interface OpenSessionsOptions {
  gateway: BenchGateway
  relayKey: string
  count: number
  /** Sessions being opened at once. */
  concurrency: number
  /** Author the subscriptions follow; nothing is published under it, so they stay idle. */
  pubkey: string
  /** Index of the first session: tokens and client addresses are unique per index. */
  firstIndex: number
}

/**
 * Opens sessions in their realistic idle state: connected, one open REQ answered with EOSE.
 * Each has its own token and its own X-Forwarded-For address (the proxy trusts 127.0.0.1 as
 * Caddy), so per-token and per-IP bookkeeping grows as it would with distinct users.
 */
export async function openIdleSessions(opts: OpenSessionsOptions): Promise<BenchSocket[]> {
  const sockets: BenchSocket[] = []
  const filter = JSON.stringify({
    authors: [opts.pubkey],
    kinds: [1],
    since: Math.floor(Date.now() / 1000),
  })
  let next = 0
  const worker = async () => {
    while (next < opts.count) {
      const n = opts.firstIndex + next++
      const url = opts.gateway.wsUrl(opts.relayKey, opts.gateway.token(opts.relayKey, n))
      const ip = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`
      const socket = await BenchSocket.connect(url, { 'x-forwarded-for': ip })
      sockets.push(socket)
      const eose = socket.waitFor(isEose('feed'), 30_000)
      socket.send(`["REQ","feed",${filter}]`)
      await eose
    }
  }
  await Promise.all(Array.from({ length: opts.concurrency }, worker))
  return sockets
}

/** Hyperswarm traffic of the proxy over an idle window, per second. */
export interface IdleTraffic {
  seconds: number
  /** `hypertuna_gateway_pool_requests_total`, every route (health checks are not in it). */
  requestsPerSecond: number
  /** The same, by route class, for the routes that moved. */
  byRoute: Record<string, number>
  /** `hypertuna_gateway_pool_health_checks_total`: per worker connection, not per session. */
  healthChecksPerSecond: number
  pollsPerSecond: number
  sessions: number
  /** Mean health check round trip in the window, ms. */
  healthRttMs: number
}

export async function idleTraffic(gateway: BenchGateway, windowMs: number): Promise<IdleTraffic> {
  const before = await gateway.metrics()
  await sleep(windowMs)
  const after = await gateway.metrics()
  return trafficBetween(before, after)
}

function trafficBetween(before: MetricsSnapshot, after: MetricsSnapshot): IdleTraffic {
  const requests = 'hypertuna_gateway_pool_requests_total'
  const byRoute: Record<string, number> = {}
  for (const route of after.labelValues(requests, 'route')) {
    const rate = ratePerSecond(before, after, requests, { route })
    if (rate > 0) byRoute[route] = rate
  }
  return {
    seconds: (after.takenAt - before.takenAt) / 1000,
    requestsPerSecond: ratePerSecond(before, after, requests),
    byRoute,
    healthChecksPerSecond: ratePerSecond(
      before,
      after,
      'hypertuna_gateway_pool_health_checks_total',
    ),
    pollsPerSecond: ratePerSecond(before, after, 'hypertuna_gateway_proxy_polls_total'),
    sessions: after.sum('hypertuna_gateway_proxy_sessions'),
    healthRttMs: histogramMean(before, after, 'hypertuna_gateway_pool_health_check_seconds') * 1000,
  }
}

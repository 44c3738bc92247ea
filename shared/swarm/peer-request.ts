import { ErrorCode, GatewayError } from '../errors.js'
import type { OutgoingRequest, RelayChannel } from '../protocol/relay-channel.js'
import type { RelayResponse } from '../protocol/wire.js'
import { ewma, routeClass } from './peer-stats.js'
import type { MutablePeerStats, RequestOutcome, RouteClass } from './peer-stats.js'

/** Where one peer's requests are counted, and who hears how each ended. */
export interface RequestTracking {
  readonly stats: MutablePeerStats
  /** The peer's key, hex (named in PEER_ERROR details). */
  readonly peer: string
  /** A request timed out: the peer may have died, find out now instead of at the next tick. */
  timedOut(): void
  /** A request ended (the connection's `request` event). */
  settled(channel: RelayChannel, route: RouteClass, outcome: RequestOutcome, seconds: number): void
}

/**
 * Sends `req` on the open `channel`, counting load, service time and outcome; an answer of 500
 * or more rejects with PEER_ERROR.
 */
export async function trackedRequest(
  channel: RelayChannel,
  req: OutgoingRequest,
  timeoutMs: number | undefined,
  tracking: RequestTracking,
): Promise<RelayResponse> {
  const route = routeClass(req.path)
  const stats = tracking.stats
  stats.inflight++
  stats.requests++
  stats.lastUsedAt = Date.now()
  const started = performance.now()
  let outcome: RequestOutcome = 'ok'
  try {
    const res = await channel.request(req, timeoutMs === undefined ? {} : { timeoutMs })
    stats.serviceMs = ewma(stats.serviceMs, performance.now() - started)
    if (res.statusCode >= 500) {
      outcome = 'peer_error'
      throw new GatewayError(ErrorCode.PEER_ERROR, `peer answered ${res.statusCode}`, {
        details: { statusCode: res.statusCode, peer: tracking.peer },
      })
    }
    return res
  } catch (err) {
    if (outcome === 'ok')
      outcome = (err as GatewayError).code === ErrorCode.REQUEST_TIMEOUT ? 'timeout' : 'closed'
    stats.requestFailures++
    if (outcome === 'timeout') tracking.timedOut()
    throw err
  } finally {
    stats.inflight--
    tracking.settled(channel, route, outcome, (performance.now() - started) / 1000)
  }
}

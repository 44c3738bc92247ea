import type { PeerState } from './select-peer.js'

/** Bounded route classes used as a metric label (never the raw path). */
export type RouteClass =
  'relay_post' | 'relay_get' | 'drive' | 'pfp' | 'identify' | 'health' | 'other'

/** Bounded request outcomes used as a metric label. */
export type RequestOutcome = 'ok' | 'peer_error' | 'timeout' | 'closed' | 'unreachable'

/** Bounded dial outcomes used as a metric label. */
export type DialOutcome = 'ok' | 'failed' | 'timeout' | 'key_mismatch' | 'refused'

/** Why an open link was dropped. */
export type LinkLoss = 'closed' | 'probe' | 'health' | 'replaced'

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

// HyperDHT's own error codes (hyperdht/lib/errors.js), so a metric label stays bounded.
const DHT_CODES = new Set([
  'BAD_HANDSHAKE_REPLY',
  'BAD_HOLEPUNCH_REPLY',
  'HOLEPUNCH_ABORTED',
  'HOLEPUNCH_INVALID',
  'HOLEPUNCH_PROBE_TIMEOUT',
  'HOLEPUNCH_DOUBLE_RANDOMIZED_NATS',
  'CANNOT_HOLEPUNCH',
  'REMOTE_NOT_HOLEPUNCHING',
  'REMOTE_NOT_HOLEPUNCHABLE',
  'REMOTE_ABORTED',
  'HANDSHAKE_UNFINISHED',
  'HANDSHAKE_INVALID',
  'NODE_DESTROYED',
  'PEER_CONNECTION_FAILED',
  'PEER_NOT_FOUND',
  'STREAM_NOT_CONNECTED',
  'SERVER_INCOMPATIBLE',
  'SERVER_ERROR',
  'DUPLICATE_CONNECTION',
  'RELAY_ABORTED',
  'SUSPENDED',
  'ETIMEDOUT',
])

/** Punching could not work here: worth one more try through a blind relay. */
const RELAY_WORTHY = new Set([
  'HOLEPUNCH_ABORTED',
  'HOLEPUNCH_DOUBLE_RANDOMIZED_NATS',
  'HOLEPUNCH_PROBE_TIMEOUT',
  'CANNOT_HOLEPUNCH',
  'REMOTE_NOT_HOLEPUNCHABLE',
  'REMOTE_NOT_HOLEPUNCHING',
  'TIMEOUT',
])

/** The bounded label for a dial failure: a HyperDHT code, `TIMEOUT` (our deadline) or `OTHER`. */
export function dialErrorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  if (code === 'TIMEOUT') return code
  return typeof code === 'string' && DHT_CODES.has(code) ? code : 'OTHER'
}

/** True when a dial that failed with `code` should be retried through a blind relay. */
export function relayWorthy(code: string): boolean {
  return RELAY_WORTHY.has(code)
}

/** One peer's figures, read-only to everyone but its PeerConnection. */
export interface PeerStats {
  readonly state: PeerState
  readonly inflight: number
  /** EWMA of request service time (send to answer), ms; null before the first answer. */
  readonly serviceMs: number | null
  /** EWMA of health-check round trips, ms; null before the first answer. */
  readonly healthRttMs: number | null
  readonly requests: number
  readonly requestFailures: number
  readonly healthOk: number
  readonly healthFailed: number
  readonly dials: number
  readonly dialFailures: number
  /** The current link came from the peer dialling us. */
  readonly inbound: boolean
  /** The current link runs through a blind relay. */
  readonly relayed: boolean
  /** Bytes of links already closed plus the current one. */
  readonly bytesReceived: number
  readonly bytesSent: number
  /** Epoch ms of the last request sent. */
  readonly lastUsedAt: number
}

const EWMA_ALPHA = 0.2

/** Exponentially weighted moving average step. */
export function ewma(prev: number | null, sample: number): number {
  return prev === null ? sample : prev + EWMA_ALPHA * (sample - prev)
}

/** PeerStats as its PeerConnection writes them. */
export type MutablePeerStats = { -readonly [K in keyof PeerStats]: PeerStats[K] }

/** Figures of a peer that has not connected yet. */
export function createPeerStats(): MutablePeerStats {
  return {
    state: 'down',
    inflight: 0,
    serviceMs: null,
    healthRttMs: null,
    requests: 0,
    requestFailures: 0,
    healthOk: 0,
    healthFailed: 0,
    dials: 0,
    dialFailures: 0,
    inbound: false,
    relayed: false,
    bytesReceived: 0,
    bytesSent: 0,
    lastUsedAt: Date.now(),
  }
}

import type { WsRelayBackendStats } from '../shared/worker/ws-relay-backend.js'

/** What the live status line shows. */
export interface LiveStatus {
  /** Client sessions with a connection to the local relay. */
  sessions: number
  messagesIn: number
  messagesOut: number
  /** Gateway links (relay-v2 channels) open to this worker. */
  gatewayLinks: number
  /** `ok`, or `failing` while renewals fail. */
  registration: 'ok' | 'failing'
  /** Raw tunnels open (tunnel mode only): tunnelled sessions and HTTP requests. */
  tunnels?: number
}

/** The status from the backend's counters and the worker's link state. */
export function liveStatus(
  stats: WsRelayBackendStats,
  gatewayLinks: number,
  registration: LiveStatus['registration'],
  tunnels?: number,
): LiveStatus {
  return {
    ...(tunnels === undefined ? {} : { tunnels }),
    sessions: stats.connections,
    messagesIn: stats.messagesIn,
    messagesOut: stats.messagesOut,
    gatewayLinks,
    registration,
  }
}

/** One line, e.g. `sessions 2 · messages 10 in / 25 out · gateway links 1 · registration ok`. */
export function formatStatus(s: LiveStatus): string {
  return (
    `sessions ${s.sessions} · messages ${s.messagesIn} in / ${s.messagesOut} out · ` +
    `gateway links ${s.gatewayLinks} · ${s.tunnels === undefined ? '' : `tunnels ${s.tunnels} · `}` +
    `registration ${s.registration}`
  )
}

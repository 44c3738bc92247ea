import type { ServerOptions } from 'node:http'

/**
 * Deadlines for the proxy's and the registrar's HTTP servers: a client that sends half a
 * request head (a stalled upgrade, slowloris) is cut off after `headersTimeout`, a request
 * whose body never finishes after `requestTimeout`. Node only looks every
 * `connectionsCheckingInterval` (30 s by default), so that is shortened too: every stalled
 * request is gone within 13 s.
 */
export const SERVER_TIMEOUTS = {
  headersTimeout: 10_000,
  requestTimeout: 12_000,
  connectionsCheckingInterval: 1_000,
} as const satisfies ServerOptions

/**
 * The project's one registry of stable error codes. Callers and tests branch on `code`, never on
 * messages, so a code once published is never renamed.
 *
 * In process a code is its upper-case name (`STORE_UNAVAILABLE`). Where a code leaves the process
 * in an HTTP answer, a log line or a metric label it is written in lower case
 * (`store_unavailable`, see {@link wireCode}): that is the form workers in the field already read.
 */
export const ErrorCode = {
  // configuration and start-up
  CONFIG_INVALID: 'CONFIG_INVALID',
  SECRET_TOO_SHORT: 'SECRET_TOO_SHORT',
  // process last resort (shared/process/crash-only.ts)
  UNCAUGHT_EXCEPTION: 'UNCAUGHT_EXCEPTION',
  UNHANDLED_REJECTION: 'UNHANDLED_REJECTION',
  // relay-v2 channel
  CHANNEL_CLOSED: 'CHANNEL_CLOSED',
  REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  HEALTH_TIMEOUT: 'HEALTH_TIMEOUT',
  PROTOCOL_ERROR: 'PROTOCOL_ERROR',
  // peers
  PEER_UNREACHABLE: 'PEER_UNREACHABLE',
  PEER_ERROR: 'PEER_ERROR',
  PEER_KEY_MISMATCH: 'PEER_KEY_MISMATCH',
  NO_PEER_AVAILABLE: 'NO_PEER_AVAILABLE',
  POOL_CLOSED: 'POOL_CLOSED',
  // auth
  TOKEN_INVALID: 'TOKEN_INVALID',
  TOKEN_EXPIRED: 'TOKEN_EXPIRED',
  TOKEN_REVOKED: 'TOKEN_REVOKED',
  SIGNATURE_MISSING: 'SIGNATURE_MISSING',
  SIGNATURE_INVALID: 'SIGNATURE_INVALID',
  STALE_REGISTRATION: 'STALE_REGISTRATION',
  STALE_REQUEST: 'STALE_REQUEST',
  REPLAYED_NONCE: 'REPLAYED_NONCE',
  // stores
  STORE_UNAVAILABLE: 'STORE_UNAVAILABLE',
  STORE_CLOSED: 'STORE_CLOSED',
  WORKER_EXISTS: 'WORKER_EXISTS',
  // request input (HTTP answers)
  INVALID_JSON: 'INVALID_JSON',
  BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  INVALID_BODY: 'INVALID_BODY',
  INVALID_RELAY_KEY: 'INVALID_RELAY_KEY',
  INVALID_GATEWAY_PATH: 'INVALID_GATEWAY_PATH',
  TTL_TOO_LONG: 'TTL_TOO_LONG',
  NOT_FOUND: 'NOT_FOUND',
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  RATE_LIMITED: 'RATE_LIMITED',
  // registrar decisions
  NOT_CONFIGURED: 'NOT_CONFIGURED',
  ADMIN_UNAUTHORIZED: 'ADMIN_UNAUTHORIZED',
  LEGACY_DELETE_DISABLED: 'LEGACY_DELETE_DISABLED',
  GATEWAY_PATH_TAKEN: 'GATEWAY_PATH_TAKEN',
  RELAY_NOT_FOUND: 'RELAY_NOT_FOUND',
  RELAY_OWNED: 'RELAY_OWNED',
  WORKER_DISABLED: 'WORKER_DISABLED',
  WORKER_UNKNOWN: 'WORKER_UNKNOWN',
  SHARED_SECRET_DISABLED: 'SHARED_SECRET_DISABLED',
  WORKER_SECRET_UNREADABLE: 'WORKER_SECRET_UNREADABLE',
  // proxy answers
  RELAY_UNKNOWN: 'RELAY_UNKNOWN',
  BAD_GATEWAY: 'BAD_GATEWAY',
  UNAVAILABLE: 'UNAVAILABLE',
  NOT_READY: 'NOT_READY',
  INTERNAL_ERROR: 'INTERNAL_ERROR',
  // registrar client (worker kit)
  REGISTRAR_UNREACHABLE: 'REGISTRAR_UNREACHABLE',
  REGISTRAR_REJECTED: 'REGISTRAR_REJECTED',
  REGISTRAR_UNSUPPORTED: 'REGISTRAR_UNSUPPORTED',
  CLIENT_CLOSED: 'CLIENT_CLOSED',
  // raw tunnels (docs/protocol.md "Extension: tunnel")
  TUNNEL_UNSUPPORTED: 'TUNNEL_UNSUPPORTED',
  TUNNEL_REFUSED: 'TUNNEL_REFUSED',
  TUNNEL_CONNECT_FAILED: 'TUNNEL_CONNECT_FAILED',
  TUNNEL_LINK_LOST: 'TUNNEL_LINK_LOST',
  TUNNEL_RESET: 'TUNNEL_RESET',
  // the proxy's edge cut a tunnelled client (proxy/tunnel-edge.ts)
  TUNNEL_CLOSE_DEADLINE: 'TUNNEL_CLOSE_DEADLINE',
  TUNNEL_FRAME_INVALID: 'TUNNEL_FRAME_INVALID',
} as const

/** One of {@link ErrorCode}. */
export type ErrorCodeName = (typeof ErrorCode)[keyof typeof ErrorCode]

/** A code as it is written outside the process: answers, log lines, metric labels. */
export type WireCode<C extends ErrorCodeName = ErrorCodeName> = Lowercase<C>

/** The outside-the-process form of `code` (`STORE_UNAVAILABLE` -> `store_unavailable`). */
export function wireCode<C extends ErrorCodeName>(code: C): WireCode<C> {
  return code.toLowerCase() as WireCode<C>
}

/** The one base class for every error this project raises on purpose. */
export class GatewayError extends Error {
  readonly code: ErrorCodeName
  readonly details: Record<string, unknown> | undefined

  constructor(
    code: ErrorCodeName,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'GatewayError'
    this.code = code
    this.details = options.details
  }
}

/**
 * Stable error codes. Callers and tests branch on `code`, never on messages,
 * so a code once published is never renamed.
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
  CHANNEL_NOT_OPEN: 'CHANNEL_NOT_OPEN',
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
  SIGNATURE_INVALID: 'SIGNATURE_INVALID',
  // stores
  STORE_UNAVAILABLE: 'STORE_UNAVAILABLE',
  STORE_CLOSED: 'STORE_CLOSED',
  /** A registration's gatewayPath is held by another live relay (the claim is atomic). */
  ALIAS_TAKEN: 'ALIAS_TAKEN',
  // registrar client (worker kit)
  REGISTRAR_UNREACHABLE: 'REGISTRAR_UNREACHABLE',
  REGISTRAR_REJECTED: 'REGISTRAR_REJECTED',
  REGISTRAR_UNSUPPORTED: 'REGISTRAR_UNSUPPORTED',
  CLIENT_CLOSED: 'CLIENT_CLOSED',
} as const

export type ErrorCodeName = (typeof ErrorCode)[keyof typeof ErrorCode]

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

/** True when `err` is a GatewayError with the given code. */
export function hasCode(err: unknown, code: ErrorCodeName): err is GatewayError {
  return err instanceof GatewayError && err.code === code
}

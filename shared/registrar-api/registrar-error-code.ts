import { ErrorCode } from '../errors.js'
import type { WireCode } from '../errors.js'

/**
 * The codes the registrar answers with, picked from the one registry in shared/errors.ts. In an
 * answer's body (`{ error, code }`), log lines and metric labels they are written in lower case
 * (`replayed_nonce`): those are the wire values workers branch on, never renamed.
 */
export const RegistrarErrorCode = {
  /** The body is not parseable JSON. */
  INVALID_JSON: ErrorCode.INVALID_JSON,
  /** The body is larger than the configured limit. */
  BODY_TOO_LARGE: ErrorCode.BODY_TOO_LARGE,
  /** Fields missing or of the wrong type or shape. */
  INVALID_BODY: ErrorCode.INVALID_BODY,
  /** The relay key (in the body or the path) is neither 64 hex nor `<npub>:<name>`. */
  INVALID_RELAY_KEY: ErrorCode.INVALID_RELAY_KEY,
  /** `metadata.gatewayPath` is not a safe path or would shadow a relay key or a route. */
  INVALID_GATEWAY_PATH: ErrorCode.INVALID_GATEWAY_PATH,
  /** The requested token lifetime is over the configured maximum. */
  TTL_TOO_LONG: ErrorCode.TTL_TOO_LONG,
  /** No signature was sent. */
  SIGNATURE_MISSING: ErrorCode.SIGNATURE_MISSING,
  /** The signature does not match. */
  SIGNATURE_INVALID: ErrorCode.SIGNATURE_INVALID,
  /** A registration's `issuedAt` is outside the registrar's clock window. */
  STALE_REGISTRATION: ErrorCode.STALE_REGISTRATION,
  /** A replay-proof request's `issuedAt` is outside the registrar's clock window. */
  STALE_REQUEST: ErrorCode.STALE_REQUEST,
  /** The nonce was already used within the clock window. */
  REPLAYED_NONCE: ErrorCode.REPLAYED_NONCE,
  /** The legacy DELETE form is switched off by configuration. */
  LEGACY_DELETE_DISABLED: ErrorCode.LEGACY_DELETE_DISABLED,
  /** Another relay already uses this `gatewayPath`. */
  GATEWAY_PATH_TAKEN: ErrorCode.GATEWAY_PATH_TAKEN,
  /** No live registration for this relay key. */
  RELAY_NOT_FOUND: ErrorCode.RELAY_NOT_FOUND,
  /** The relay key or its gatewayPath belongs to another worker account (or to one, for the shared secret). */
  RELAY_OWNED: ErrorCode.RELAY_OWNED,
  /** The worker account that signed the request is disabled. */
  WORKER_DISABLED: ErrorCode.WORKER_DISABLED,
  /** The `workerId` names no worker account. */
  WORKER_UNKNOWN: ErrorCode.WORKER_UNKNOWN,
  /** Multi-tenant mode: requests must be signed by a worker account, not the shared secret. */
  SHARED_SECRET_DISABLED: ErrorCode.SHARED_SECRET_DISABLED,
  /**
   * The worker account's sealed secret does not open with this registrar's
   * GATEWAY_WORKER_SECRET_KEY (the key changed or differs from the one it was sealed with): the
   * operator's to fix, not the worker's.
   */
  WORKER_SECRET_UNREADABLE: ErrorCode.WORKER_SECRET_UNREADABLE,
  /** The token sent for refresh is malformed, forged or for another relay. */
  TOKEN_INVALID: ErrorCode.TOKEN_INVALID,
  /** The token sent for refresh has expired. */
  TOKEN_EXPIRED: ErrorCode.TOKEN_EXPIRED,
  /** The token sent for refresh was revoked. */
  TOKEN_REVOKED: ErrorCode.TOKEN_REVOKED,
  /** No route for this method and path. */
  NOT_FOUND: ErrorCode.NOT_FOUND,
  /** Too many requests from this client address; see `Retry-After`. */
  RATE_LIMITED: ErrorCode.RATE_LIMITED,
  /** An admin API call without the admin Bearer token, or with a wrong one. */
  ADMIN_UNAUTHORIZED: ErrorCode.ADMIN_UNAUTHORIZED,
  /** No registration secret is configured. */
  NOT_CONFIGURED: ErrorCode.NOT_CONFIGURED,
  /** The store cannot be reached; nothing was written. See `Retry-After`. */
  STORE_UNAVAILABLE: ErrorCode.STORE_UNAVAILABLE,
  /** Anything else; details are in the registrar's log, never in the answer. */
  INTERNAL_ERROR: ErrorCode.INTERNAL_ERROR,
} as const

/** One of {@link RegistrarErrorCode}. */
export type RegistrarErrorCodeName = (typeof RegistrarErrorCode)[keyof typeof RegistrarErrorCode]

/** A registrar code as written in answers, logs and metric labels (`replayed_nonce`). */
export type RegistrarWireCode = WireCode<RegistrarErrorCodeName>

/** The JSON body of every registrar error answer. */
export interface RegistrarErrorBody {
  /** Human text; may change between versions. */
  error: string
  code: RegistrarWireCode
}

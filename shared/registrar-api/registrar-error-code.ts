/**
 * The `code` of every registrar error body (`{ error, code }`). Workers and tests branch on
 * these, never on the human text, so a published code is never renamed. They are wire values
 * (snake_case), distinct from the in-process `ErrorCode`s of shared/errors.ts.
 */
export const RegistrarErrorCode = {
  /** The body is not parseable JSON. */
  INVALID_JSON: 'invalid_json',
  /** The body is larger than the configured limit. */
  BODY_TOO_LARGE: 'body_too_large',
  /** Fields missing or of the wrong type or shape. */
  INVALID_BODY: 'invalid_body',
  /** The relay key (in the body or the path) is neither 64 hex nor `<npub>:<name>`. */
  INVALID_RELAY_KEY: 'invalid_relay_key',
  /** `metadata.gatewayPath` is not a safe path or would shadow a relay key or a route. */
  INVALID_GATEWAY_PATH: 'invalid_gateway_path',
  /** The requested token lifetime is over the configured maximum. */
  TTL_TOO_LONG: 'ttl_too_long',
  /** No signature was sent. */
  SIGNATURE_MISSING: 'signature_missing',
  /** The signature does not match. */
  SIGNATURE_INVALID: 'signature_invalid',
  /** A registration's `issuedAt` is outside the registrar's clock window. */
  STALE_REGISTRATION: 'stale_registration',
  /** A replay-proof request's `issuedAt` is outside the registrar's clock window. */
  STALE_REQUEST: 'stale_request',
  /** The nonce was already used within the clock window. */
  REPLAYED_NONCE: 'replayed_nonce',
  /** The legacy DELETE form is switched off by configuration. */
  LEGACY_DELETE_DISABLED: 'legacy_delete_disabled',
  /** Another relay already uses this `gatewayPath`. */
  GATEWAY_PATH_TAKEN: 'gateway_path_taken',
  /** No live registration for this relay key. */
  RELAY_NOT_FOUND: 'relay_not_found',
  /** The token sent for refresh is malformed, forged or for another relay. */
  TOKEN_INVALID: 'token_invalid',
  /** The token sent for refresh has expired. */
  TOKEN_EXPIRED: 'token_expired',
  /** The token sent for refresh was revoked. */
  TOKEN_REVOKED: 'token_revoked',
  /** No route for this method and path. */
  NOT_FOUND: 'not_found',
  /** Too many requests from this client address; see `Retry-After`. */
  RATE_LIMITED: 'rate_limited',
  /** An admin API call without the admin Bearer token, or with a wrong one. */
  ADMIN_UNAUTHORIZED: 'admin_unauthorized',
  /** No registration secret is configured. */
  NOT_CONFIGURED: 'not_configured',
  /** The store cannot be reached; nothing was written. See `Retry-After`. */
  STORE_UNAVAILABLE: 'store_unavailable',
  /** Anything else; details are in the registrar's log, never in the answer. */
  INTERNAL_ERROR: 'internal_error',
} as const

/** One of {@link RegistrarErrorCode}. */
export type RegistrarErrorCodeName = (typeof RegistrarErrorCode)[keyof typeof RegistrarErrorCode]

/** The JSON body of every registrar error answer. */
export interface RegistrarErrorBody {
  /** Human text; may change between versions. */
  error: string
  code: RegistrarErrorCodeName
}

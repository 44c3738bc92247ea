import { randomBytes } from 'node:crypto'
import { assertSecret, hmacHex, isUsableSecret, safeEqualHex } from '../auth/hmac.js'
import { stableStringify } from '../auth/stable-stringify.js'
import { ErrorCode, GatewayError } from '../errors.js'

/**
 * The `action` of each replay-proof request. It is part of the signed object, so a signature
 * made for one action (or for a registration, which has none) never verifies for another.
 * `delete` produces exactly the signature of `signDelete` in shared/auth.
 */
export const SignedAction = {
  GET: 'get',
  DELETE: 'delete',
  TOKEN_ISSUE: 'token-issue',
  TOKEN_REFRESH: 'token-refresh',
  TOKEN_REVOKE: 'token-revoke',
} as const

/** One of {@link SignedAction}. */
export type SignedActionName = (typeof SignedAction)[keyof typeof SignedAction]

/**
 * The signed object of a replay-proof request. Request bodies are signed whole (minus
 * `signature`), so optional fields such as `ttl` or `token` are covered too.
 */
export interface SignedRequestFields {
  relayKey: string
  action: SignedActionName
  /** Single-use; see {@link newNonce}. */
  nonce: string
  /** Milliseconds since the epoch, by the signer's clock. */
  issuedAt: number
  readonly [field: string]: unknown
}

/** Nonces the registrar accepts: 8 to 128 characters of base64url alphabet (hex fits). */
export const NONCE_PATTERN = /^[A-Za-z0-9_-]{8,128}$/

const ACTIONS = new Set<string>(Object.values(SignedAction))

/** A fresh nonce: 12 random bytes as 24 lowercase hex, the legacy registration format. */
export function newNonce(): string {
  return randomBytes(12).toString('hex')
}

/**
 * Signature of a replay-proof request: hmac(stableStringify(fields)).
 *
 * @throws GatewayError `SECRET_TOO_SHORT`; `SIGNATURE_INVALID` when the fields would not pass
 * {@link verifySignedRequest} (unknown action, bad nonce, non-integer `issuedAt`).
 */
export function signRequest(secret: string, fields: SignedRequestFields): string {
  assertSecret(secret)
  if (!isSignedRequest(fields)) {
    throw new GatewayError(
      ErrorCode.SIGNATURE_INVALID,
      'cannot sign request: relayKey must be non-empty, action known, nonce 8-128 base64url ' +
        'characters and issuedAt integer ms',
    )
  }
  return hmacHex(secret, stableStringify(fields))
}

/**
 * Checks a {@link signRequest} signature over `fields` exactly as received. Never throws.
 * Freshness and nonce reuse are the registrar's to check.
 */
export function verifySignedRequest(secret: string, fields: unknown, signature: unknown): boolean {
  if (!isUsableSecret(secret) || typeof signature !== 'string') return false
  if (!isSignedRequest(fields)) return false
  let text: string
  try {
    text = stableStringify(fields)
  } catch {
    return false
  }
  return safeEqualHex(hmacHex(secret, text), signature)
}

function isSignedRequest(fields: unknown): fields is SignedRequestFields {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) return false
  const { relayKey, action, nonce, issuedAt } = fields as Record<string, unknown>
  return (
    typeof relayKey === 'string' &&
    relayKey.length > 0 &&
    typeof action === 'string' &&
    ACTIONS.has(action) &&
    typeof nonce === 'string' &&
    NONCE_PATTERN.test(nonce) &&
    Number.isSafeInteger(issuedAt) &&
    (issuedAt as number) >= 0
  )
}

import { ErrorCode, GatewayError } from '../errors.js'
import { assertSecret, hmacHex, isUsableSecret, safeEqualHex } from './hmac.js'
import { stableStringify } from './stable-stringify.js'

/** The fields of a replay-proof delete request; see {@link signDelete}. */
export interface DeleteRequest {
  /** Relay whose registration is to be removed. */
  relayKey: string
  /** Single-use random value (hex suggested); the registrar must refuse one it has seen. */
  nonce: string
  /** Milliseconds since the epoch; the registrar must refuse one outside its window. */
  issuedAt: number
}

/**
 * Signature for `POST /api/relays`: hmac(stableStringify(registration)).
 *
 * @throws GatewayError `SECRET_TOO_SHORT`
 */
export function signRegistration(
  secret: string,
  registration: Readonly<Record<string, unknown>>,
): string {
  assertSecret(secret)
  return hmacHex(secret, stableStringify(registration))
}

/**
 * Checks a `POST /api/relays` signature: hmac(stableStringify(registration)), where
 * `registration` is the parsed object from the request body, every field included.
 *
 * The same secret also signs client tokens and delete requests, so a signed object from
 * either of those could be replayed here as a "registration". Objects carrying their marks
 * (`scope: "relay-access"` or `action: "delete"`) are therefore refused. Freshness
 * (`issuedAt`), nonce reuse and the shape of the rest are the registrar's to check.
 *
 * Never throws: a non-object registration, a non-string signature or an unusable secret
 * all give false.
 */
export function verifyRegistrationSignature(
  secret: string,
  registration: unknown,
  signature: unknown,
): boolean {
  if (!isUsableSecret(secret) || typeof signature !== 'string') return false
  if (typeof registration !== 'object' || registration === null || Array.isArray(registration)) {
    return false
  }
  const fields = registration as Record<string, unknown>
  if (fields.scope === 'relay-access' || fields.action === 'delete') return false
  let text: string
  try {
    text = stableStringify(fields)
  } catch {
    return false
  }
  return safeEqualHex(hmacHex(secret, text), signature)
}

/**
 * Legacy `x-signature` for `DELETE /api/relays/:relayKey`: hmac(stableStringify({ relayKey })).
 *
 * This signature depends on nothing but the relay key, so it never changes: anyone who
 * sees it once can replay it forever to remove the relay. It exists because workers in
 * the field send nothing else; prefer {@link signDelete}.
 *
 * @throws GatewayError `SECRET_TOO_SHORT`; `SIGNATURE_INVALID` for an empty relay key.
 */
export function signLegacyDelete(secret: string, relayKey: string): string {
  assertSecret(secret)
  if (typeof relayKey !== 'string' || relayKey.length === 0) {
    throw unsignable('relayKey must be a non-empty string')
  }
  return hmacHex(secret, stableStringify({ relayKey }))
}

/**
 * Checks a legacy delete signature. A true result proves only that someone once held the
 * secret, not that this request is fresh: the legacy form is replayable forever (see
 * {@link signLegacyDelete}). Never throws.
 */
export function verifyLegacyDelete(secret: string, relayKey: string, signature: unknown): boolean {
  if (!isUsableSecret(secret) || typeof signature !== 'string') return false
  if (typeof relayKey !== 'string' || relayKey.length === 0) return false
  return safeEqualHex(hmacHex(secret, stableStringify({ relayKey })), signature)
}

/**
 * Replay-proof delete signature (extension):
 * hmac(stableStringify({ relayKey, nonce, issuedAt, action: "delete" })).
 *
 * The `action` field keeps this from ever equalling a registration or token signature.
 * The signature alone does not stop replay: the registrar must also refuse an `issuedAt`
 * outside its clock window and any nonce it has already accepted within that window.
 *
 * @throws GatewayError `SECRET_TOO_SHORT`; `SIGNATURE_INVALID` when a field has the wrong
 * type, an empty string or a non-integer `issuedAt` ({@link verifyDelete} would refuse it).
 */
export function signDelete(secret: string, request: DeleteRequest): string {
  assertSecret(secret)
  if (!isDeleteRequest(request)) {
    throw unsignable('relayKey and nonce must be non-empty strings, issuedAt integer ms')
  }
  return hmacHex(secret, deleteText(request))
}

/**
 * Checks a {@link signDelete} signature. Fields come off the wire, so wrong types (for
 * example `issuedAt` still a header string) give false rather than throwing. Checks the
 * signature only; freshness and nonce reuse are the registrar's job.
 */
export function verifyDelete(secret: string, request: DeleteRequest, signature: unknown): boolean {
  if (!isUsableSecret(secret) || typeof signature !== 'string') return false
  if (!isDeleteRequest(request)) return false
  return safeEqualHex(hmacHex(secret, deleteText(request)), signature)
}

// Picks the three fields so that extra properties on the caller's object are never signed.
function deleteText({ relayKey, nonce, issuedAt }: DeleteRequest): string {
  return stableStringify({ relayKey, nonce, issuedAt, action: 'delete' })
}

function isDeleteRequest(request: unknown): request is DeleteRequest {
  if (typeof request !== 'object' || request === null) return false
  const { relayKey, nonce, issuedAt } = request as Record<string, unknown>
  return (
    typeof relayKey === 'string' &&
    relayKey.length > 0 &&
    typeof nonce === 'string' &&
    nonce.length > 0 &&
    Number.isSafeInteger(issuedAt)
  )
}

function unsignable(message: string): GatewayError {
  return new GatewayError(ErrorCode.SIGNATURE_INVALID, `cannot sign delete request: ${message}`)
}

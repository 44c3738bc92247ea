import { createHmac, timingSafeEqual } from 'node:crypto'
import { ErrorCode, GatewayError } from '../errors.js'

/** Shortest shared secret accepted, in UTF-8 bytes. */
export const MIN_SECRET_BYTES = 16

const LOWER_HEX = /^(?:[0-9a-f]{2})+$/

/** Lowercase hex HMAC-SHA256 of `data` (strings are hashed as UTF-8) keyed with `secret`. */
export function hmacHex(secret: string, data: string | Uint8Array): string {
  return createHmac('sha256', secret).update(data).digest('hex')
}

/**
 * Constant-time equality of two lowercase hex strings such as signatures.
 *
 * Returns false, never throws, when either side is not a string, is empty, has an odd
 * length, contains anything but `0-9a-f` (the protocol only writes lowercase, and
 * accepting other spellings would give one signature several valid forms), or when the
 * lengths differ. Only the length and hex-ness can leak through timing, never content.
 */
export function safeEqualHex(a: string, b: string): boolean {
  if (typeof a !== 'string' || typeof b !== 'string' || a.length !== b.length) return false
  if (!LOWER_HEX.test(a) || !LOWER_HEX.test(b)) return false
  return timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'))
}

/** True when `secret` is a string of at least {@link MIN_SECRET_BYTES} UTF-8 bytes. */
export function isUsableSecret(secret: unknown): secret is string {
  return typeof secret === 'string' && Buffer.byteLength(secret, 'utf8') >= MIN_SECRET_BYTES
}

/**
 * Rejects a shared secret shorter than {@link MIN_SECRET_BYTES} UTF-8 bytes.
 *
 * @param name - the setting the secret came from, used in the message (never the value).
 * @throws GatewayError `SECRET_TOO_SHORT`
 */
export function assertSecret(secret: string, name = 'GATEWAY_REGISTRATION_SECRET'): void {
  if (isUsableSecret(secret)) return
  const bytes = typeof secret === 'string' ? Buffer.byteLength(secret, 'utf8') : 0
  throw new GatewayError(
    ErrorCode.SECRET_TOO_SHORT,
    `${name} must be at least ${MIN_SECRET_BYTES} bytes long (got ${bytes} bytes)`,
    { details: { name, bytes, minBytes: MIN_SECRET_BYTES } },
  )
}

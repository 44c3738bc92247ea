import { ErrorCode, GatewayError } from '../errors.js'
import { assertSecret, hmacHex, isUsableSecret, safeEqualHex } from './hmac.js'
import { stableStringify } from './stable-stringify.js'

/** The only scope a client token is accepted with. */
export const CLIENT_TOKEN_SCOPE = 'relay-access'

/** Longest token string {@link verifyClientToken} will look at, in characters. */
export const MAX_CLIENT_TOKEN_LENGTH = 4096

/** Longest `pubkey` a token may name, in characters. */
export const MAX_TOKEN_PUBKEY_LENGTH = 256

/** Lifetime {@link issueClientToken} gives a token when told neither `ttlMs` nor `expiresAt`. */
export const DEFAULT_CLIENT_TOKEN_TTL_MS = 60 * 60 * 1000

/**
 * A client token's signed payload (docs/protocol.md section 5). Issuers may add fields of their own,
 * such as a per-relay sequence, which come back from verification untouched.
 */
export interface ClientTokenPayload {
  /** Relay the token grants access to; a token without one is valid for any relay. */
  relayKey?: string
  /** Milliseconds since the epoch; a token without one never expires. */
  expiresAt?: number
  /** Milliseconds since the epoch. */
  issuedAt?: number
  scope: typeof CLIENT_TOKEN_SCOPE
  /**
   * The person the token was minted for (a Nostr pubkey, later Hypertuna versions). Absent
   * or null: a share link, one token for a relay's whole audience.
   */
  pubkey?: string | null
  /**
   * The worker's own credential for that person (later Hypertuna versions): the gateway
   * hands it to the worker as `x-auth-token` instead of the client token.
   */
  relayAuthToken?: string | null
  /** Issuer's per-relay sequence number (later Hypertuna versions); carried, not interpreted. */
  sequence?: number
  readonly [field: string]: unknown
}

/** Why {@link verifyClientToken} refused a token. */
export type TokenFailureReason = 'malformed' | 'bad-signature' | 'expired' | 'wrong-relay'

/**
 * Outcome of {@link verifyClientToken}. A payload accompanies a failure only when its
 * signature checked out (`expired`, `wrong-relay`), so unauthenticated content is never
 * handed back.
 */
export type TokenVerification =
  | { ok: true; payload: ClientTokenPayload }
  | { ok: false; reason: 'malformed' | 'bad-signature'; payload?: undefined }
  | { ok: false; reason: 'expired' | 'wrong-relay'; payload: ClientTokenPayload }

/** What to put in a token; see {@link issueClientToken}. */
export interface IssueClientTokenOptions {
  relayKey: string
  /** Lifetime from `issuedAt`; ignored when `expiresAt` is given. */
  ttlMs?: number
  /** Absolute expiry in ms; takes precedence over `ttlMs`. */
  expiresAt?: number
  /** Defaults to `now`. */
  issuedAt?: number
  /** Current time in ms, the default for `issuedAt`; defaults to `Date.now()`. */
  now?: number
  /** The person the token is for: 64 lowercase hex characters (a Nostr pubkey). */
  pubkey?: string
  /** The worker's credential for that person, forwarded to the worker as `x-auth-token`. */
  relayAuthToken?: string
  /** Further payload fields to sign, such as a per-relay `seq`; `undefined` ones are left out. */
  extra?: Readonly<Record<string, unknown>>
}

/** Context for {@link verifyClientToken}. */
export interface VerifyClientTokenOptions {
  /** Relay the client asked for; when given, a token naming another relay is refused. */
  relayKey?: string
  /** Current time in ms; defaults to `Date.now()`. */
  now?: number
}

const RESERVED_FIELDS = new Set(['relayKey', 'expiresAt', 'issuedAt', 'scope'])
const PUBKEY_HEX = /^[0-9a-f]{64}$/
const BASE64URL = /^[A-Za-z0-9_-]+$/
const SIGNATURE_HEX_LENGTH = 64
const SIGNATURE_HEX = /^[0-9a-f]{64}$/

const MALFORMED: TokenVerification = Object.freeze({ ok: false, reason: 'malformed' })
const BAD_SIGNATURE: TokenVerification = Object.freeze({ ok: false, reason: 'bad-signature' })

/**
 * Mints a client token in the legacy worker format:
 * base64url(S) + "." + hex(hmac(S)) with S = stableStringify(payload).
 *
 * @throws GatewayError `SECRET_TOO_SHORT` for a short secret; `TOKEN_INVALID` for an empty
 * relay key, non-integer or negative times, an expiry not after `issuedAt`, an `extra`
 * field that would overwrite a standard one, a `pubkey` that is not 64 lowercase hex characters,
 * an empty `relayAuthToken`, or a token too long for verification.
 * @throws TypeError when `extra` holds something JSON cannot carry (a BigInt, a cycle).
 */
export function issueClientToken(secret: string, options: IssueClientTokenOptions): string {
  assertSecret(secret)
  const { relayKey, ttlMs, extra = {} } = options
  // Also accepted through `extra`, as before they had options of their own.
  const pubkey = options.pubkey ?? extra.pubkey
  const relayAuthToken = options.relayAuthToken ?? extra.relayAuthToken
  const issuedAt = options.issuedAt ?? options.now ?? Date.now()
  const expiresAt = options.expiresAt ?? issuedAt + (ttlMs ?? DEFAULT_CLIENT_TOKEN_TTL_MS)

  if (typeof relayKey !== 'string' || relayKey.length === 0) {
    throw invalid('relayKey must be a non-empty string')
  }
  if (!isTime(issuedAt) || !isTime(expiresAt)) {
    throw invalid('issuedAt and expiresAt must be non-negative integer milliseconds')
  }
  if (expiresAt <= issuedAt) throw invalid('the token would expire before it was issued')
  const clash = Object.keys(extra).find((field) => RESERVED_FIELDS.has(field))
  if (clash !== undefined) throw invalid(`extra field "${clash}" would replace a standard field`)
  if (pubkey !== undefined && (typeof pubkey !== 'string' || !PUBKEY_HEX.test(pubkey))) {
    throw invalid('pubkey must be 64 lowercase hex characters')
  }
  if (
    relayAuthToken !== undefined &&
    (typeof relayAuthToken !== 'string' || relayAuthToken === '')
  ) {
    throw invalid('relayAuthToken must be a non-empty string')
  }

  const signed = stableStringify({
    ...extra,
    pubkey,
    relayAuthToken,
    relayKey,
    expiresAt,
    scope: CLIENT_TOKEN_SCOPE,
    issuedAt,
  })
  const token = `${Buffer.from(signed, 'utf8').toString('base64url')}.${hmacHex(secret, signed)}`
  if (token.length > MAX_CLIENT_TOKEN_LENGTH) {
    throw invalid(`token is ${token.length} characters, over ${MAX_CLIENT_TOKEN_LENGTH}`)
  }
  return token
}

/**
 * Checks a client token (docs/protocol.md section 5). Runs on every WebSocket connect, so cheap
 * structural checks come first and nothing here throws, whatever `token` is.
 *
 * Refuses as `malformed`: a non-string, an empty token or one over
 * {@link MAX_CLIENT_TOKEN_LENGTH}; anything but exactly one `.`; a payload part that is not
 * canonical unpadded base64url; a signature that is not 64 lowercase hex characters; and,
 * once the signature has checked out, a payload that is not a JSON object, has a
 * `relayKey`/`expiresAt`/`issuedAt`/`sequence` of the wrong type, a `pubkey` or
 * `relayAuthToken` that is neither null nor a non-empty string (a pubkey of at most
 * {@link MAX_TOKEN_PUBKEY_LENGTH}), or lacks `scope: "relay-access"`.
 * The scope is required because the shared secret also signs registrations and delete
 * requests, whose signed objects would otherwise pass as never-expiring tokens.
 *
 * The HMAC is checked, in constant time, over the payload bytes exactly as sent. Then
 * `expired` when `expiresAt` is present and not after `now`, and `wrong-relay` when both
 * the token and `options` name a relay and they differ.
 */
export function verifyClientToken(
  secret: string,
  token: unknown,
  options: VerifyClientTokenOptions = {},
): TokenVerification {
  const parts = readClientToken(token)
  return parts === null ? MALFORMED : checkClientToken(secret, parts, options)
}

/**
 * A client token split into the payload bytes as sent and the signature: structurally sound,
 * not yet authenticated. Nothing in it may be trusted before {@link checkClientToken} says so.
 */
export interface SignedClientToken {
  readonly signed: Buffer
  readonly signature: string
}

/**
 * The structural half of {@link verifyClientToken}: null where it would say `malformed` before
 * looking at the signature. Lets a caller find out which secret applies (a relay owned by a
 * worker account is checked with that worker's) without decoding the token twice.
 */
export function readClientToken(token: unknown): SignedClientToken | null {
  if (typeof token !== 'string' || token.length > MAX_CLIENT_TOKEN_LENGTH) return null
  const dot = token.length - SIGNATURE_HEX_LENGTH - 1
  if (dot < 1 || token.charCodeAt(dot) !== 0x2e) return null
  const encoded = token.slice(0, dot)
  const signature = token.slice(dot + 1)
  const signed = decodeCanonicalBase64url(encoded)
  if (signed === undefined) return null
  // safeEqualHex would also say false here, but a malformed signature is the client's
  // mistake rather than a forgery, and callers count the two apart.
  if (!SIGNATURE_HEX.test(signature)) return null
  return { signed, signature }
}

/** The rest of {@link verifyClientToken}: signature with `secret`, payload, expiry, relay. */
export function checkClientToken(
  secret: string,
  token: SignedClientToken,
  options: VerifyClientTokenOptions = {},
): TokenVerification {
  const { signed, signature } = token
  if (!isUsableSecret(secret)) return BAD_SIGNATURE
  if (!safeEqualHex(hmacHex(secret, signed), signature)) return BAD_SIGNATURE

  const payload = parsePayload(signed)
  if (payload === undefined) return MALFORMED
  const now = options.now ?? Date.now()
  if (payload.expiresAt !== undefined && payload.expiresAt <= now) {
    return { ok: false, reason: 'expired', payload }
  }
  const wanted = options.relayKey
  if (wanted !== undefined && payload.relayKey !== undefined && payload.relayKey !== wanted) {
    return { ok: false, reason: 'wrong-relay', payload }
  }
  return { ok: true, payload }
}

// Buffer's base64url decoder skips characters it does not know and ignores stray trailing
// bits, so several strings decode to the same bytes. Insisting on the one canonical
// spelling keeps each token a single string, which matters to anything keyed by token.
function decodeCanonicalBase64url(encoded: string): Buffer | undefined {
  if (encoded.length % 4 === 1 || !BASE64URL.test(encoded)) return undefined
  const bytes = Buffer.from(encoded, 'base64url')
  return bytes.toString('base64url') === encoded ? bytes : undefined
}

function parsePayload(signed: Buffer): ClientTokenPayload | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(signed.toString('utf8'))
  } catch {
    return undefined
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined
  const fields = parsed as Record<string, unknown>
  const { relayKey, expiresAt, issuedAt, scope, sequence } = fields
  if (scope !== CLIENT_TOKEN_SCOPE) return undefined
  if (relayKey !== undefined && typeof relayKey !== 'string') return undefined
  if (expiresAt !== undefined && typeof expiresAt !== 'number') return undefined
  if (issuedAt !== undefined && typeof issuedAt !== 'number') return undefined
  if (sequence !== undefined && typeof sequence !== 'number') return undefined
  if (!isOptionalText(fields.pubkey, MAX_TOKEN_PUBKEY_LENGTH)) return undefined
  if (!isOptionalText(fields.relayAuthToken, MAX_CLIENT_TOKEN_LENGTH)) return undefined
  return parsed as ClientTokenPayload
}

// Later Hypertuna versions write `null` for "none"; an empty string names nobody either.
function isOptionalText(value: unknown, maxLength: number): boolean {
  if (value === undefined || value === null) return true
  return typeof value === 'string' && value.length > 0 && value.length <= maxLength
}

/** The person a verified token names, or null for a share link. */
export function tokenPubkey(payload: ClientTokenPayload): string | null {
  return typeof payload.pubkey === 'string' ? payload.pubkey : null
}

/**
 * What the worker receives as `x-auth-token` for a session opened with `token`: the token's
 * `relayAuthToken` when it carries one, else the client token itself (legacy behaviour).
 */
export function workerToken(token: string, payload: ClientTokenPayload): string {
  return typeof payload.relayAuthToken === 'string' ? payload.relayAuthToken : token
}

function isTime(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0
}

function invalid(message: string): GatewayError {
  return new GatewayError(ErrorCode.TOKEN_INVALID, `cannot issue client token: ${message}`)
}

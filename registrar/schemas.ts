import { z } from 'zod'
import { NONCE_PATTERN, SignedAction } from '../shared/registrar-api/signed-request.js'
import { WORKER_ID_PATTERN } from '../shared/auth/worker-credentials.js'

// docs/protocol.md section 3: a relay key is 64 hex characters or `<npub>:<name>`. Workers derive
// the hex form from key bytes (always lowercase); upper case would make a second, distinct key.
const HEX_RELAY_KEY = /^[0-9a-f]{64}$/
const NPUB_RELAY_KEY = /^npub1[0-9a-z]{1,120}:[A-Za-z0-9._~-]{1,128}$/
const PEER_KEY = /^[0-9a-f]{64}$/
const PATH_SEGMENT = /^[A-Za-z0-9._~-]{1,128}$/
const MAX_GATEWAY_PATH_SEGMENTS = 4
const MAX_GATEWAY_PATH_LENGTH = 256
// First path segments the gateway serves itself; an alias there would never be reached or,
// worse, would capture requests meant for the gateway.
const RESERVED_FIRST_SEGMENTS = new Set([
  'api',
  'drive',
  'pfp',
  'health',
  'ready',
  'metrics',
  '.well-known',
])

/** Largest peer list a registration may carry. */
export const MAX_PEERS = 64

/** True for a well-formed relay key: 64 lowercase hex, or `<npub>:<name>`. */
export function isRelayKey(value: unknown): value is string {
  return typeof value === 'string' && (HEX_RELAY_KEY.test(value) || NPUB_RELAY_KEY.test(value))
}

/**
 * Why `gatewayPath` cannot be the alias of `relayKey`, or null when it can. Besides shape,
 * an alias must not look like some other relay's key, in either of the two spellings the
 * proxy understands (`<a>:<b>` and the two-segment path `<a>/<b>`), so that no worker can
 * squat a relay key before that relay registers.
 */
export function gatewayPathProblem(gatewayPath: string, relayKey: string): string | null {
  if (gatewayPath.length > MAX_GATEWAY_PATH_LENGTH) {
    return `gatewayPath is longer than ${MAX_GATEWAY_PATH_LENGTH} characters`
  }
  const segments = gatewayPath.split('/')
  if (segments.length > MAX_GATEWAY_PATH_SEGMENTS) {
    return `gatewayPath has more than ${MAX_GATEWAY_PATH_SEGMENTS} segments`
  }
  for (const segment of segments) {
    if (!PATH_SEGMENT.test(segment) || segment === '.' || segment === '..') {
      return 'gatewayPath segments must be 1-128 characters of A-Z a-z 0-9 . _ ~ -'
    }
  }
  if (RESERVED_FIRST_SEGMENTS.has((segments[0] ?? '').toLowerCase())) {
    return 'gatewayPath starts with a segment the gateway reserves'
  }
  const asKey = segments.length === 2 ? segments.join(':') : gatewayPath
  if (isRelayKey(asKey) && asKey !== relayKey) {
    return "gatewayPath looks like another relay's key"
  }
  return null
}

const relayKey = z.string().refine(isRelayKey, {
  message: 'must be 64 lowercase hex characters or <npub>:<name>',
})
const nonce = z.string().regex(NONCE_PATTERN, 'must be 8-128 characters of [A-Za-z0-9_-]')
const issuedAt = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)
const optionalText = z.string().max(4096).nullish()
// The signing worker account (docs/registrar.md, tenancy); absent: the shared secret.
const workerId = z.string().regex(WORKER_ID_PATTERN, 'must be 32 lowercase hex characters')

// Metadata fields the proxy and UIs read are type-checked; anything else a worker sends is
// kept as is (legacy workers add their own fields).
const metadataSchema = z.looseObject({
  name: optionalText,
  description: optionalText,
  gatewayPath: z.string().nullish(),
  isPublic: z.boolean().nullish(),
  connectionUrl: optionalText,
})

/**
 * A registration `R` of `POST /api/relays` (docs/protocol.md section 4). Loose: legacy workers may
 * send fields of their own, which the signature covers; they are verified, then not stored.
 */
export const registrationSchema = z.looseObject({
  relayKey,
  nonce,
  issuedAt,
  peers: z
    .array(z.string().regex(PEER_KEY, 'must be 64 lowercase hex characters'))
    .min(1)
    .max(MAX_PEERS),
  metadata: metadataSchema.optional(),
  workerId: workerId.optional(),
})

/** A parsed, shape-checked registration. */
export type RegistrationInput = z.infer<typeof registrationSchema>

/**
 * The envelope of `POST /api/relays`. Only the outline is checked here, so that a bad
 * signature is answered 401 before anything about the registration's contents is revealed.
 */
export const registrationEnvelopeSchema = z.object({
  registration: z.looseObject({ relayKey: z.string() }),
  signature: z.string().max(128).optional(),
})

const signature = z.string().max(128)
// Token lifetimes are whole seconds, like every other TTL in the configuration.
const ttl = z.number().int().positive().max(Number.MAX_SAFE_INTEGER)

/** Body of `POST /api/relays/:relayKey/tokens`. Strict: every field is signed. */
export const tokenIssueSchema = z.strictObject({
  relayKey,
  action: z.literal(SignedAction.TOKEN_ISSUE),
  nonce,
  issuedAt,
  workerId: workerId.optional(),
  ttl: ttl.optional(),
  // A per-user token: the person (Nostr pubkey) and the worker's credential for them.
  pubkey: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters')
    .optional(),
  relayAuthToken: z.string().min(1).max(2048).optional(),
  signature,
})

/** Body of `POST /api/relays/:relayKey/tokens/refresh`. */
export const tokenRefreshSchema = z.strictObject({
  relayKey,
  action: z.literal(SignedAction.TOKEN_REFRESH),
  nonce,
  issuedAt,
  workerId: workerId.optional(),
  token: z.string().min(1).max(4096),
  ttl: ttl.optional(),
  signature,
})

/** Body of `POST /api/relays/:relayKey/tokens/revoke`. */
export const tokenRevokeSchema = z.strictObject({
  relayKey,
  action: z.literal(SignedAction.TOKEN_REVOKE),
  nonce,
  issuedAt,
  workerId: workerId.optional(),
  signature,
})

/** Body of `POST /api/admin/workers`. */
export const workerCreateSchema = z.strictObject({
  name: z
    .string()
    .trim()
    .min(1)
    .max(64)
    .regex(/^\P{Cc}*$/u, 'must not contain control characters'),
})

/** The `x-issued-at` header: decimal integer milliseconds, nothing else. */
export const ISSUED_AT_HEADER = /^\d{1,16}$/

/**
 * What a registrar offers beyond the legacy API (docs/protocol.md section 4). A legacy registrar
 * knows none of this: it answers `GET /api/capabilities` with 404 and sends no
 * {@link CAPABILITIES_HEADER}, which is how a client tells the two apart.
 */
export const RegistrarCapability = {
  /** Registrations are refused when `issuedAt` is stale or the `nonce` was seen. */
  FRESH_REGISTRATION: 'fresh-registration',
  /** `DELETE /api/relays/:relayKey` with `x-nonce`, `x-issued-at` and a signDelete signature. */
  REPLAY_PROOF_DELETE: 'replay-proof-delete',
  /** Signed `GET /api/relays/:relayKey`. */
  REGISTRATION_GET: 'registration-get',
  /** Signed token issue, refresh and revoke under `/api/relays/:relayKey/tokens`. */
  TOKENS: 'tokens',
  /** Requests may be signed by a worker account (`workerId`, `x-worker-id`); relays have owners. */
  WORKER_ACCOUNTS: 'worker-accounts',
} as const

/** One of {@link RegistrarCapability}. */
export type RegistrarCapabilityName = (typeof RegistrarCapability)[keyof typeof RegistrarCapability]

/** Every capability this version of the registrar offers. */
export const REGISTRAR_CAPABILITIES: readonly RegistrarCapabilityName[] = Object.freeze(
  Object.values(RegistrarCapability),
)

/** Response header, on every registrar answer, listing its capabilities comma-separated. */
export const CAPABILITIES_HEADER = 'x-registrar-capabilities'

/**
 * Response header of a successful `POST /api/relays`: the registration's lifetime in seconds,
 * so that clients renew in time. (The body stays the legacy `{"status":"ok"}`.)
 */
export const REGISTRATION_TTL_HEADER = 'x-registration-ttl'

/**
 * Header on a registration answer: the gateway's public base URL (`https://…`), what a worker
 * builds its clients' share URLs from. A header, so the legacy `{status:"ok"}` body stays as is.
 */
export const PUBLIC_URL_HEADER = 'x-gateway-public-url'

/** Path answering `{ "version": 1, "capabilities": [..] }`. */
export const CAPABILITIES_PATH = '/api/capabilities'

/** Headers of the replay-proof DELETE and of the signed GET. */
export const SignedHeader = {
  NONCE: 'x-nonce',
  ISSUED_AT: 'x-issued-at',
  SIGNATURE: 'x-signature',
  /** The signing worker account of a replay-proof DELETE or signed GET; absent: shared secret. */
  WORKER_ID: 'x-worker-id',
} as const

/** Relay metadata a worker may send with its registration (free-form beyond these). */
export interface RelayMetadata {
  name?: string
  description?: string
  /** Path alias clients may use instead of the relay key: `wss://gateway/<gatewayPath>`. */
  gatewayPath?: string
  isPublic?: boolean
  connectionUrl?: string
  [extra: string]: unknown
}

/** A relay registration: what the registrar stores and answers `GET /api/relays/:key` with. */
export interface Registration {
  relayKey: string
  /** Worker swarm keys (64 lowercase hex) that serve this relay, in the worker's order. */
  peers: string[]
  metadata: RelayMetadata
  /** The worker's nonce and clock, as signed. */
  nonce: string | null
  issuedAt: number | null
  /** Registrar clock: when stored, and when it lapses unless renewed (ms since epoch). */
  registeredAt: number
  expiresAt: number
  /**
   * The worker account that owns this relay, stamped by the store from the registrant; absent:
   * unowned (registered with the legacy shared secret).
   */
  workerId?: string
}

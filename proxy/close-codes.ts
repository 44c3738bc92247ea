/** WebSocket close codes clients and workers already key off (legacy), plus standard ones. */
export const CloseCode = {
  /** Going away: the gateway is shutting down. */
  GOING_AWAY: 1001,
  /** Policy violation: a client limit (sessions, slow consumer). */
  POLICY: 1008,
  /** Frame too large (ws sends it itself for maxPayload). */
  TOO_BIG: 1009,
  /** Legacy: gateway not configured or internal error. */
  INTERNAL: 1011,
  /** Legacy: no peer available for the relay. */
  NO_PEER: 1013,
  /** Legacy: token missing, invalid or revoked. */
  FORBIDDEN: 4403,
  /** Legacy: relay unknown or malformed path. */
  NOT_FOUND: 4404,
} as const

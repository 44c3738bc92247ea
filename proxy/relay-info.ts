import type { Registration } from '../shared/store/gateway-store.js'
import { bodyText, Capability } from '../shared/protocol/wire.js'
import type { PeerPool } from '../shared/swarm/peer-pool.js'

/** Longest subscription id NIP-01 allows, in characters; the gateway announces it. */
export const MAX_SUBID_LENGTH = 64

/** What the gateway says about itself in NIP-11 documents it builds. */
export interface RelayInfoDefaults {
  software: string
  version: string
  /** Largest client frame, in bytes. */
  maxMessageLength: number
  /** Open subscriptions per session. */
  maxSubscriptions: number
  /** Sustained client messages per second per session. */
  messagesPerSecond: number
}

/** NIP-11 `limitation` fields the gateway enforces, whatever the worker behind it does. */
export interface GatewayLimitation {
  max_message_length: number
  max_subscriptions: number
  max_subid_length: number
  auth_required: true
  /** Not in NIP-11 (clients ignore fields they do not know): sustained per-session rate. */
  messages_per_second: number
}

/** The `limitation` the gateway itself imposes. */
export function gatewayLimitation(defaults: RelayInfoDefaults): GatewayLimitation {
  return {
    max_message_length: defaults.maxMessageLength,
    max_subscriptions: defaults.maxSubscriptions,
    max_subid_length: MAX_SUBID_LENGTH,
    auth_required: true,
    messages_per_second: defaults.messagesPerSecond,
  }
}

/**
 * A worker's NIP-11 document with the gateway's limits merged into its `limitation`: the
 * worker's other fields stay, and of two numeric limits the smaller holds, since a client
 * meets both. A token is always needed here, so `auth_required` is true.
 */
export function withGatewayLimitation(
  doc: Record<string, unknown>,
  gateway: GatewayLimitation,
): Record<string, unknown> {
  const own = doc.limitation
  const worker: Record<string, unknown> =
    typeof own === 'object' && own !== null && !Array.isArray(own)
      ? (own as Record<string, unknown>)
      : {}
  const merged: Record<string, unknown> = { ...worker }
  for (const [field, value] of Object.entries(gateway)) {
    const theirs = worker[field]
    merged[field] =
      typeof value === 'number' && typeof theirs === 'number' && theirs >= 0
        ? Math.min(value, theirs)
        : value
  }
  return { ...doc, limitation: merged }
}

/**
 * The NIP-11 document of a relay: the worker's own when it offers one
 * (`relay-info` capability), else one built from the registration metadata;
 * either way with the gateway's limits in `limitation`.
 */
export async function relayInfo(
  registration: Registration,
  pool: PeerPool,
  defaults: RelayInfoDefaults,
): Promise<Record<string, unknown>> {
  const peer = pool.select(registration.peers)
  // Capabilities are known once connected; a session would need the connection anyway.
  const conn = peer === null ? null : await pool.acquire(peer).catch(() => null)
  if (peer !== null && conn?.supports(Capability.RELAY_INFO) === true) {
    try {
      const res = await pool.request(
        peer,
        {
          method: 'GET',
          path: `/relay-info/${registration.relayKey}`,
        },
        { timeoutMs: 5_000 },
      )
      if (res.statusCode === 200 && res.body !== null) {
        const doc: unknown = JSON.parse(bodyText(res.body))
        if (typeof doc === 'object' && doc !== null && !Array.isArray(doc))
          return withGatewayLimitation(doc as Record<string, unknown>, gatewayLimitation(defaults))
      }
    } catch {
      // Fall back to what the registration says.
    }
  }
  const meta = registration.metadata
  return {
    name: typeof meta.name === 'string' ? meta.name : registration.relayKey.slice(0, 16),
    description: typeof meta.description === 'string' ? meta.description : '',
    supported_nips: [1, 11],
    software: defaults.software,
    version: defaults.version,
    limitation: gatewayLimitation(defaults),
  }
}

/**
 * The tunnel extension's wire format, in one place (docs/protocol.md "Extension: tunnel"):
 * one Protomux channel per tunnel on the pooled link, raw bytes with per-tunnel credit.
 */
import c from 'compact-encoding'
import type { Encoding } from 'protomux'

/** Protomux protocol name of a tunnel channel; many may be open on one link (no id). */
export const TUNNEL_PROTOCOL = 'hypertuna-tunnel'

/**
 * Bytes either side may send before the first credit arrives, and the most it ever has
 * unacknowledged: the per-tunnel memory bound on the receiving side.
 */
export const TUNNEL_WINDOW = 1024 * 1024

/** Largest data message; bigger writes are split (keeps one tunnel from hogging the link). */
export const TUNNEL_MAX_CHUNK = 64 * 1024

/** Handshake of the side that opens: which service. The accepting side answers `{}`. */
export interface TunnelHandshake {
  service?: string
  [extra: string]: unknown
}

/** Message slots in registration order. Slots may be appended, never reordered. */
export const TunnelSlot = { DATA: 0, CREDIT: 1, END: 2, ERROR: 3 } as const

export const tunnelHandshakeEncoding = c.json as Encoding<TunnelHandshake | null>
export const dataEncoding = c.raw as Encoding<Uint8Array>
export const creditEncoding = c.uint as Encoding<number>
export const endEncoding = c.none as Encoding<null>
export const errorEncoding = c.string as Encoding<string>

/** Service name of a relay's WebSocket (its Nostr relay port) on its worker. */
export function wsService(relayKey: string): string {
  return `ws:${relayKey}`
}

/** Service name of a relay's HTTP file server on its worker. */
export function httpService(relayKey: string): string {
  return `http:${relayKey}`
}

/** The kind of a service for metric labels: `ws`, `http` or `other` (never the relay key). */
export function serviceKind(service: string): 'ws' | 'http' | 'other' {
  if (service.startsWith('ws:')) return 'ws'
  if (service.startsWith('http:')) return 'http'
  return 'other'
}

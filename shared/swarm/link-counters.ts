import type { NoiseSecretStream } from 'hyperdht'
import type { MutablePeerStats } from './peer-stats.js'

/** One link's transport counters (UDX, acknowledgements included in packets). */
export interface LinkCounters {
  bytesReceived: number
  bytesSent: number
  packetsReceived: number
  packetsSent: number
  /** Packets the transport sent again (tail-loss probes, timeouts): load, not protocol. */
  packetsRetransmitted: number
}

interface RawCounters {
  bytesReceived?: number
  bytesTransmitted?: number
  packetsReceived?: number
  packetsTransmitted?: number
  retransmits?: number
}

/** Counters of `stream`'s raw UDX stream; zeros when there is none. */
export function linkCounters(stream: NoiseSecretStream | null): LinkCounters {
  const raw = stream?.rawStream as RawCounters | null | undefined
  return {
    bytesReceived: raw?.bytesReceived ?? 0,
    bytesSent: raw?.bytesTransmitted ?? 0,
    packetsReceived: raw?.packetsReceived ?? 0,
    packetsSent: raw?.packetsTransmitted ?? 0,
    packetsRetransmitted: raw?.retransmits ?? 0,
  }
}

/** Adds a closing link's bytes to its peer's totals. */
export function addLinkBytes(
  stats: Pick<MutablePeerStats, 'bytesReceived' | 'bytesSent'>,
  stream: NoiseSecretStream,
): void {
  const link = linkCounters(stream)
  stats.bytesReceived += link.bytesReceived
  stats.bytesSent += link.bytesSent
}

/** A peer's bytes so far: its closed links' (in `stats`) plus the current link's. */
export function liveBytes(
  stats: Pick<MutablePeerStats, 'bytesReceived' | 'bytesSent'>,
  stream: NoiseSecretStream | null,
): { received: number; sent: number } {
  const link = linkCounters(stream)
  return {
    received: stats.bytesReceived + link.bytesReceived,
    sent: stats.bytesSent + link.bytesSent,
  }
}

/** UDX packets of the current link (acknowledgements included). */
export function livePackets(stream: NoiseSecretStream | null): {
  received: number
  sent: number
  retransmitted: number
} {
  const link = linkCounters(stream)
  return {
    received: link.packetsReceived,
    sent: link.packetsSent,
    retransmitted: link.packetsRetransmitted,
  }
}

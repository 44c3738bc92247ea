// The IPC message of the tunnel backend child (bench/tunnel-process.ts).

/** Tunnel backend child to bench: every front is up. */
export interface TunnelReady {
  type: 'tunnel-ready'
  /** The relay's own WebSocket server: the direct baseline, and what the tunnel connects to. */
  directPort: number
  /** The worker's local HTTP file service (DriveFileServer): the direct HTTP baseline. */
  httpPort: number
  /** The worker announcing the tunnel capability, and the relay it serves. */
  tunnelPeer: string
  tunnelRelayKey: string
  /** The file under `/drive/<tunnelRelayKey>/`, its size and SHA-256. */
  file: string
  size: number
  sha256: string
}

export const isTunnelReady = (m: unknown): m is TunnelReady =>
  typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'tunnel-ready'

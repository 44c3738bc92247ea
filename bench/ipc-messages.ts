// The few messages the bench exchanges with its children over the IPC channel.

/** Backend child to bench: every front is up. */
export interface BackendReady {
  type: 'ready'
  directPort: number
  pushPeer: string
  pushRelayKey: string
  /** A bare HyperDHT echo server, for the transport floor. */
  echoKey: string
}

/** Legacy worker child to bench (bench/legacy-process.ts). */
export interface LegacyReady {
  type: 'legacy-ready'
  legacyPeer: string
  legacyRelayKey: string
  /** The worker's own local WebSocket front on the same relay. */
  localPort: number
}

/** Bench to proxy child (bench/child-hooks.ts): collect garbage, then report memory. */
export interface GcRequest {
  type: 'gc'
}

/** Proxy child to bench: `process.memoryUsage()` right after two full collections. */
export interface MemoryReport {
  type: 'memory'
  gc: boolean
  rss: number
  heapUsed: number
  heapTotal: number
  external: number
  arrayBuffers: number
}

const typed = (m: unknown, type: string): boolean =>
  typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type

export const isBackendReady = (m: unknown): m is BackendReady => typed(m, 'ready')
export const isLegacyReady = (m: unknown): m is LegacyReady => typed(m, 'legacy-ready')
export const isGcRequest = (m: unknown): m is GcRequest => typed(m, 'gc')
export const isMemoryReport = (m: unknown): m is MemoryReport => typed(m, 'memory')

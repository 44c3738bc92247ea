declare module 'blind-relay' {
  import type { EventEmitter } from 'node:events'
  import type { NoiseSecretStream } from 'hyperdht'

  export interface BlindRelayStats {
    sessions: { accepted: number; opened: number; closed: number; active: number }
    pairings: {
      requested: number
      matched: number
      cancelled: number
      pending: number
      active: number
    }
    streams: { opened: number; closed: number; errors: number; active: number }
  }
  export interface BlindRelaySession extends EventEmitter {
    end(): Promise<void>
  }
  export class Server extends EventEmitter {
    constructor(opts: { createStream(opts: unknown): unknown })
    readonly stats: BlindRelayStats
    accept(stream: NoiseSecretStream, opts: { id: Buffer }): BlindRelaySession
    close(): Promise<void>
  }
}

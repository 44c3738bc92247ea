/** A file answer for `/drive` and `/pfp` routes. */
export interface FileResponse {
  statusCode: number
  headers: Record<string, string>
  body: Buffer | null
}

/**
 * What a worker application plugs into a RelayHost: one relay's logic, keyed
 * by the gateway-chosen `connectionKey` of each client socket.
 */
export interface RelayBackend {
  /** Handles one parsed client message; returns the immediate reply lines (JSON texts). */
  handleMessage(connectionKey: string, message: unknown): string[] | Promise<string[]>
  /** Registers the sink for later output (live events); returns an unsubscribe. */
  onOutput(listener: (connectionKey: string, line: string) => void): () => void
  /** The client socket behind `connectionKey` is gone: drop its subscriptions. */
  closeConnection(connectionKey: string): void
}

/** One relay a RelayHost serves. */
export interface HostedRelay {
  /** 64-hex relay key. */
  relayKey: string
  /** Optional public identifier alias, `<npub>:<name>`. */
  publicIdentifier?: string
  backend: RelayBackend
  /** The relay's NIP-11 information document, served to gateways that ask (`relay-info`). */
  info?: () => Record<string, unknown>
  /** Serves `/drive/:identifier/:file`; null means 404. */
  file?: (name: string) => Promise<FileResponse | null> | FileResponse | null
}

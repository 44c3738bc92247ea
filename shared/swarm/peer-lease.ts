import type { OutgoingRequest } from '../protocol/relay-channel.js'
import type { JsonObject, RelayResponse } from '../protocol/wire.js'
import type { PeerConnection } from './peer-connection.js'

/**
 * A counted claim on one pooled peer connection, held by whoever routes work
 * to that peer (a relay session, a forwarded request). The pool keeps a
 * connection while any lease on it is live; `release()` is idempotent, so a
 * double release cannot under-count.
 */
export class PeerLease {
  readonly key: string
  readonly #conn: PeerConnection
  readonly #onRelease: (lease: PeerLease) => void
  #released = false

  /** Created by `PeerPool.lease()`; not meant to be constructed directly. */
  constructor(conn: PeerConnection, onRelease: (lease: PeerLease) => void) {
    this.key = conn.key
    this.#conn = conn
    this.#onRelease = onRelease
  }

  get released(): boolean {
    return this.#released
  }

  /** The leased connection (state, latency, capabilities). */
  get connection(): PeerConnection {
    return this.#conn
  }

  /** Both sides advertise `capability` on the current channel. */
  supports(capability: string): boolean {
    return this.#conn.supports(capability)
  }

  /** Sends a request over the leased connection; see `PeerConnection.request`. */
  request(req: OutgoingRequest, timeoutMs?: number): Promise<RelayResponse> {
    return this.#conn.request(req, timeoutMs)
  }

  /** Sends a wsframe-slot message; false when no channel is open. */
  sendWsFrame(frame: JsonObject): boolean {
    return this.#conn.sendWsFrame(frame)
  }

  /**
   * Holds the connection's writes until {@link uncork}: requests sent in between leave as one
   * Protomux batch in one write (a pipelined batch of a session). Pairs must not straddle ticks.
   */
  cork(): void {
    this.#conn.channel?.cork()
  }

  uncork(): void {
    this.#conn.channel?.uncork()
  }

  /** Gives the claim back. Safe to call more than once. */
  release(): void {
    if (this.#released) return
    this.#released = true
    this.#onRelease(this)
  }
}

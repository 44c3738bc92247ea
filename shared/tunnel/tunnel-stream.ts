import { Duplex } from 'node:stream'
import Protomux from 'protomux'
import type { Channel, ProtomuxMessage } from 'protomux'
import { ErrorCode, GatewayError } from '../errors.js'
import type { ErrorCodeName } from '../errors.js'
import {
  creditEncoding,
  dataEncoding,
  endEncoding,
  errorEncoding,
  TUNNEL_MAX_CHUNK,
  TUNNEL_PROTOCOL,
  TUNNEL_WINDOW,
  tunnelHandshakeEncoding,
} from './tunnel-wire.js'
import type { TunnelHandshake } from './tunnel-wire.js'

/** Byte counts of one tunnel. */
export interface TunnelStats {
  bytesIn: number
  bytesOut: number
}

/** Options of {@link TunnelStream}. */
export interface TunnelStreamOptions {
  /** Opening side: the service asked for. Absent: accept the channel the peer opened. */
  service?: string
  /** Called with the peer's handshake once the channel is open. */
  onHandshake?: (handshake: TunnelHandshake, tunnel: TunnelStream) => void
}

const REMOTE_CODES = new Set<string>([
  ErrorCode.TUNNEL_REFUSED,
  ErrorCode.TUNNEL_CONNECT_FAILED,
  ErrorCode.TUNNEL_RESET,
])

interface PendingWrite {
  chunk: Buffer
  offset: number
  callback: (err?: Error | null) => void
}

/**
 * One raw byte stream over a Protomux channel of a pooled link: a Duplex that
 * http clients, http-proxy and `net` sockets can be piped with. Flow control
 * is per tunnel: a sender has at most {@link TUNNEL_WINDOW} bytes the receiver
 * has not consumed, and the receiver grants more as its reader takes bytes, so
 * a slow consumer stalls its own tunnel, not the link. Writes also wait for
 * the link itself to drain. Half-close is carried (`end`), so HTTP and
 * WebSocket closes keep their order.
 *
 * It has the net.Socket methods http's Agent calls (`setNoDelay`,
 * `setKeepAlive`, `setTimeout`, `ref`, `unref`). Errors carry a
 * {@link GatewayError} code: TUNNEL_REFUSED, TUNNEL_CONNECT_FAILED (from the
 * worker), TUNNEL_LINK_LOST (the link went down), TUNNEL_RESET (closed early).
 */
export class TunnelStream extends Duplex {
  readonly service: string | null
  readonly stats: TunnelStats = { bytesIn: 0, bytesOut: 0 }
  readonly connecting = false
  readonly #mux: Protomux
  readonly #channel: Channel<TunnelHandshake | null>
  readonly #data: ProtomuxMessage<Uint8Array>
  readonly #credit: ProtomuxMessage<number>
  readonly #end: ProtomuxMessage<null>
  readonly #error: ProtomuxMessage<string>
  readonly #onHandshake: TunnelStreamOptions['onHandshake']
  #sendWindow = TUNNEL_WINDOW
  #granted = 0
  #pending: PendingWrite | null = null
  #waitingDrain: ((err?: Error | null) => void) | null = null
  #receivedEnd = false
  #remoteError: string | null = null
  #channelClosed = false
  #opened = false

  constructor(streamOrMux: unknown, opts: TunnelStreamOptions = {}) {
    // Readers get bytes as they come; the window, not the Readable's buffer, bounds memory.
    super({ allowHalfOpen: true, readableHighWaterMark: TUNNEL_MAX_CHUNK })
    this.service = opts.service ?? null
    this.#onHandshake = opts.onHandshake
    // Never unhandled: whoever uses the stream adds its own listener too.
    this.on('error', () => {})
    this.#mux = Protomux.from(streamOrMux)
    const channel = this.#mux.createChannel<TunnelHandshake | null>({
      protocol: TUNNEL_PROTOCOL,
      unique: false,
      handshake: tunnelHandshakeEncoding,
      onopen: (handshake) => this.#onOpen(handshake),
      onclose: () => this.#onChannelClose(),
      ondrain: () => this.#onDrain(),
    })
    if (channel === null) {
      throw new GatewayError(ErrorCode.TUNNEL_LINK_LOST, 'tunnel link is closed')
    }
    this.#channel = channel
    this.#data = channel.addMessage({
      encoding: dataEncoding,
      onmessage: (m) => this.#onData(m),
    })
    this.#credit = channel.addMessage({
      encoding: creditEncoding,
      onmessage: (n) => this.#onCredit(n),
    })
    this.#end = channel.addMessage({ encoding: endEncoding, onmessage: () => this.#onEnd() })
    this.#error = channel.addMessage({
      encoding: errorEncoding,
      onmessage: (code) => (this.#remoteError = code),
    })
    channel.open(opts.service === undefined ? {} : { service: opts.service })
  }

  /** True once the peer's side of the channel is open. */
  get opened(): boolean {
    return this.#opened
  }

  setNoDelay(): this {
    return this
  }

  setKeepAlive(): this {
    return this
  }

  setTimeout(_ms: number, callback?: () => void): this {
    if (callback !== undefined) this.once('timeout', callback)
    return this
  }

  ref(): this {
    return this
  }

  unref(): this {
    return this
  }

  /** Sends `code` to the peer, then closes: for the accepting side's refusals. */
  refuse(code: ErrorCodeName, message: string): void {
    this.destroy(new GatewayError(code, message))
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void) {
    if (this.#channelClosed) {
      // The peer finished and closed: nothing reads this side any more.
      if (this.#receivedEnd) return callback()
      return callback(this.#closedError())
    }
    this.#pending = { chunk, offset: 0, callback }
    this.#flush()
  }

  override _final(callback: (err?: Error | null) => void): void {
    if (!this.#channelClosed) this.#end.send(null)
    callback()
  }

  override _read(): void {
    this.#grant()
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (!this.#channelClosed) {
      if (err !== null) {
        const code = (err as Partial<GatewayError>).code
        this.#error.send(
          typeof code === 'string' && REMOTE_CODES.has(code) ? code : ErrorCode.TUNNEL_RESET,
        )
      }
      this.#channelClosed = true
      this.#channel.close()
    }
    const pending = this.#pending ?? null
    this.#pending = null
    const waiting = this.#waitingDrain
    this.#waitingDrain = null
    const failure = err ?? this.#closedError()
    pending?.callback(failure)
    waiting?.(failure)
    callback(err)
  }

  #flush(): void {
    const pending = this.#pending
    if (pending === null) return
    const { chunk } = pending
    let drained = true
    while (pending.offset < chunk.length && this.#sendWindow > 0) {
      const n = Math.min(chunk.length - pending.offset, this.#sendWindow, TUNNEL_MAX_CHUNK)
      drained = this.#data.send(chunk.subarray(pending.offset, pending.offset + n))
      pending.offset += n
      this.#sendWindow -= n
      this.stats.bytesOut += n
      if (!drained) break
    }
    if (pending.offset < chunk.length) return // resumed by credit or drain
    this.#pending = null
    if (drained || this.#mux.drained) pending.callback()
    else this.#waitingDrain = pending.callback
  }

  #onDrain(): void {
    const waiting = this.#waitingDrain
    if (waiting !== null) {
      this.#waitingDrain = null
      waiting()
    }
    this.#flush()
  }

  #onCredit(n: number): void {
    // Credit is only ever given back for bytes sent: more is a broken or hostile peer.
    if (this.#sendWindow + n > TUNNEL_WINDOW) return this.#violation('credit beyond the window')
    this.#sendWindow += n
    this.#flush()
  }

  #onData(bytes: Uint8Array): void {
    if (this.#receivedEnd || this.destroyed) return
    // The window bounds this side's memory only if it is enforced: a peer ignoring it is reset.
    if (this.stats.bytesIn + bytes.byteLength - this.#granted > TUNNEL_WINDOW) {
      return this.#violation('data beyond the window')
    }
    this.stats.bytesIn += bytes.byteLength
    this.push(bytes)
  }

  // Credit for what the reader consumed, in quarter-window steps (not one message per chunk).
  #grant(): void {
    if (this.#channelClosed || this.#receivedEnd) return
    const consumed = this.stats.bytesIn - this.readableLength
    const owed = consumed - this.#granted
    if (owed >= TUNNEL_WINDOW / 4) {
      this.#granted += owed
      this.#credit.send(owed)
    }
  }

  #violation(message: string): void {
    this.destroy(new GatewayError(ErrorCode.TUNNEL_RESET, `tunnel peer sent ${message}`))
  }

  #onEnd(): void {
    if (this.#receivedEnd) return
    this.#receivedEnd = true
    this.push(null)
  }

  #onOpen(handshake: TunnelHandshake | null): void {
    this.#opened = true
    this.emit('open')
    this.#onHandshake?.(handshake ?? {}, this)
  }

  #onChannelClose(): void {
    if (this.#channelClosed) return
    this.#channelClosed = true
    if (this.destroyed) return
    if (this.#receivedEnd && this.#remoteError === null) {
      // The peer said all it had to say: let the reader take the rest, then close.
      if (this.readableEnded) this.destroy()
      else this.once('end', () => this.destroy())
      // Writes waiting for credit will never get it.
      const pending = this.#pending
      this.#pending = null
      pending?.callback()
      return
    }
    this.destroy(this.#closedError())
  }

  #closedError(): GatewayError {
    if (this.#remoteError !== null) {
      const code = REMOTE_CODES.has(this.#remoteError)
        ? (this.#remoteError as ErrorCodeName)
        : ErrorCode.TUNNEL_RESET
      return new GatewayError(code, `tunnel closed by peer: ${this.#remoteError}`)
    }
    const link = this.#mux.stream as { destroyed?: boolean; destroying?: boolean }
    if (link.destroyed === true || link.destroying === true || !this.#opened) {
      return this.#opened
        ? new GatewayError(ErrorCode.TUNNEL_LINK_LOST, 'tunnel link lost')
        : link.destroyed === true || link.destroying === true
          ? new GatewayError(ErrorCode.TUNNEL_LINK_LOST, 'tunnel link lost before open')
          : new GatewayError(ErrorCode.TUNNEL_REFUSED, 'peer refused the tunnel')
    }
    return new GatewayError(ErrorCode.TUNNEL_RESET, 'tunnel closed early')
  }
}

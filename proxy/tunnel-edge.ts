import { Duplex } from 'node:stream'
import { CloseCode } from './close-codes.js'
import { closeFrame, WsFrameScanner } from './ws-frame-scanner.js'

/** Options of {@link TunnelEdge}. */
export interface TunnelEdgeOptions {
  /** Largest client frame payload; a larger frame closes the session with 1009. */
  maxFrameBytes: number
  /**
   * Sustained client bytes per second; above it the client's socket is paused until the
   * budget refills (bursts: one second's worth, at least one largest frame). Default unlimited.
   */
  bytesPerSecond?: number
  /** A limit was hit (for metrics); the edge enforces it itself. */
  onLimit?: (limit: 'frame_size' | 'tunnel_bytes_rate') => void
}

const NO_BYTES = Buffer.alloc(0)

/**
 * The client's socket as http-proxy sees it when a WebSocket is tunnelled:
 * bytes pass through untouched, but frame headers are followed both ways
 * (never payloads), so the gateway can still close the session with a proper
 * close frame between two of the worker's frames (1001 when the worker is
 * lost, 4403 on revocation), and refuse client frames over the size limit at
 * the edge (1009). Everything after the gateway's close frame is dropped.
 */
export class TunnelEdge extends Duplex {
  readonly #client: Duplex
  readonly #opts: TunnelEdgeOptions
  readonly #down = new WsFrameScanner((opcode) => {
    if (opcode === 0x8) this.#workerClosed = true
    return true
  })
  readonly #up: WsFrameScanner
  #phase: 'head' | 'frames' | 'http' = 'head'
  #pendingClose: Buffer | null = null
  #closeSent = false
  #workerClosed = false
  #released = false
  /** The close code the gateway sent, if it closed the session. */
  closeCode: number | null = null
  readonly #rate: number
  readonly #burst: number
  #budget: number
  #refilledAt = performance.now()
  #throttle: NodeJS.Timeout | null = null
  readonly #onData = (chunk: Buffer): void => this.#fromClient(chunk)
  readonly #onEnd = (): void => void this.push(null)
  readonly #onClose = (): void => void this.destroy()

  constructor(client: Duplex, opts: TunnelEdgeOptions, head: Buffer = NO_BYTES) {
    super({ allowHalfOpen: true })
    this.#client = client
    this.#opts = opts
    this.#up = new WsFrameScanner((_opcode, length) => length <= opts.maxFrameBytes)
    this.#rate = opts.bytesPerSecond ?? Infinity
    this.#burst = Math.max(this.#rate, opts.maxFrameBytes)
    this.#budget = this.#burst
    this.on('error', () => {})
    client.on('data', this.#onData)
    client.on('end', this.#onEnd)
    client.on('close', this.#onClose)
    if (head.length > 0) this.#fromClient(head)
  }

  /** The 101 went out: the client speaks WebSocket now. */
  get upgraded(): boolean {
    return this.#phase === 'frames'
  }

  /**
   * Closes the session with `code` at the next frame boundary of the worker's
   * output (at once when between frames). Before the upgrade completed there is
   * no WebSocket to close: the socket is destroyed.
   */
  closeWith(code: number, reason: string): void {
    if (this.#closeSent || this.destroyed) return
    if (this.#phase !== 'frames') return void this.destroy()
    this.closeCode = code
    const frame = closeFrame(code, reason)
    if (this.#workerClosed) this.#send(NO_BYTES)
    else if (this.#down.atBoundary) this.#send(frame)
    else this.#pendingClose = frame
  }

  /**
   * Lets go of the client's socket without touching it (no 101 was sent): the
   * caller answers the client itself. The edge is destroyed.
   */
  release(): void {
    this.#released = true
    this.#closeSent = true
    this.#detach()
    this.#client.off('close', this.#onClose)
    this.destroy()
  }

  setTimeout(ms: number): this {
    ;(this.#client as Partial<{ setTimeout(ms: number): void }>).setTimeout?.(ms)
    return this
  }

  setNoDelay(noDelay?: boolean): this {
    ;(this.#client as Partial<{ setNoDelay(v?: boolean): void }>).setNoDelay?.(noDelay)
    return this
  }

  setKeepAlive(enable?: boolean, delay?: number): this {
    ;(this.#client as Partial<{ setKeepAlive(e?: boolean, d?: number): void }>).setKeepAlive?.(
      enable,
      delay,
    )
    return this
  }

  override _read(): void {
    if (this.#throttle === null) this.#client.resume()
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void) {
    if (this.#closeSent) return callback()
    if (this.#phase === 'head') {
      // http-proxy writes the worker's response head in one write, before any frame.
      this.#phase = chunk.subarray(0, 12).toString('latin1') === 'HTTP/1.1 101' ? 'frames' : 'http'
      return void this.#client.write(chunk, callback)
    }
    if (this.#phase === 'http') return void this.#client.write(chunk, callback)
    const pending = this.#pendingClose
    if (pending === null) {
      this.#down.scan(chunk)
      return void this.#client.write(chunk, callback)
    }
    const end = this.#down.scan(chunk, 0, true)
    if (end < chunk.length || this.#down.atBoundary) {
      this.#send(Buffer.concat([chunk.subarray(0, end), pending]))
      return callback()
    }
    this.#client.write(chunk, callback)
  }

  override _final(callback: (err?: Error | null) => void): void {
    // The worker's side ended. Without its own close frame the client learns why from ours.
    if (this.#phase === 'frames' && !this.#closeSent && !this.#workerClosed) {
      if (this.#down.atBoundary) this.closeWith(CloseCode.GOING_AWAY, 'worker went away')
      else this.#client.destroy() // half a frame: nothing valid can follow it
    } else if (!this.#closeSent) this.#send(NO_BYTES)
    callback()
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#detach()
    if (!this.#released && (!this.#closeSent || err !== null)) this.#client.destroy()
    callback(err)
  }

  #send(last: Buffer): void {
    this.#closeSent = true
    this.#pendingClose = null
    this.#detach()
    this.#client.end(last)
    // A paused socket (backpressure, throttle) would never read the client's FIN and never close.
    this.#client.resume()
    this.push(null)
  }

  #detach(): void {
    if (this.#throttle !== null) clearTimeout(this.#throttle)
    this.#throttle = null
    this.#client.off('data', this.#onData)
    this.#client.off('end', this.#onEnd)
    // 'close' stays: the edge lives as long as the client's socket.
  }

  #fromClient(chunk: Buffer): void {
    if (this.#closeSent) return
    if (this.#phase === 'frames' || this.#phase === 'head') {
      if (this.#up.scan(chunk) === -1) {
        this.#opts.onLimit?.('frame_size')
        return this.closeWith(CloseCode.TOO_BIG, 'frame too large')
      }
    }
    if (!this.push(chunk)) this.#client.pause()
    if (this.#rate !== Infinity) this.#spend(chunk.length)
  }

  // A token bucket refilled by the clock, so an idle or slow session costs no timer.
  #spend(bytes: number): void {
    const now = performance.now()
    this.#budget = Math.min(
      this.#burst,
      this.#budget + ((now - this.#refilledAt) * this.#rate) / 1000,
    )
    this.#refilledAt = now
    this.#budget -= bytes
    if (this.#budget >= 0 || this.#throttle !== null) return
    this.#opts.onLimit?.('tunnel_bytes_rate')
    this.#client.pause()
    const waitMs = Math.ceil((-this.#budget * 1000) / this.#rate)
    this.#throttle = setTimeout(() => {
      this.#throttle = null
      if (this.readableLength < this.readableHighWaterMark) this.#client.resume()
    }, waitMs)
  }
}

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
  /**
   * How long a close may wait for the worker's current frame to end before the
   * client's connection is cut instead (ms). Default {@link CLOSE_DEADLINE_MS}.
   */
  closeDeadlineMs?: number
  /** The edge cut the client's connection instead of closing it (for metrics and logs). */
  onCut?: (reason: TunnelEdgeCut) => void
}

/**
 * Why the edge cut a client's connection without a close frame: a close waited
 * longer than its deadline for the worker's frame to end, or the worker sent a
 * frame header whose length cannot be counted (a protocol violation).
 */
export type TunnelEdgeCut = 'close_deadline' | 'frame_length'

/**
 * Default wait for a frame boundary before a pending close becomes a cut. A
 * worker that streams one endless, huge or stalled frame must not keep a revoked
 * client connected; a healthy relay's frames are far shorter than this.
 */
export const CLOSE_DEADLINE_MS = 1000

/**
 * Largest worker frame the edge follows: past 2^53 a length is no longer an
 * exact Number (and RFC 6455 forbids 2^63 and up), so its end could never be
 * found. Any smaller frame ends eventually, and the close deadline covers one
 * that ends too slowly.
 */
const MAX_DOWN_FRAME = Number.MAX_SAFE_INTEGER

const NO_BYTES = Buffer.alloc(0)

/**
 * The client's socket as http-proxy sees it when a WebSocket is tunnelled:
 * bytes pass through untouched, but frame headers are followed both ways
 * (never payloads), so the gateway can still close the session with a proper
 * close frame between two of the worker's frames (1001 when the worker is
 * lost, 4403 on revocation), and refuse client frames over the size limit at
 * the edge (1009). Everything after the gateway's close frame is dropped, and
 * so is what the client sends once a close is decided. A close that finds no
 * boundary within its deadline cuts the client's connection instead.
 */
export class TunnelEdge extends Duplex {
  readonly #client: Duplex
  readonly #opts: TunnelEdgeOptions
  readonly #down = new WsFrameScanner((opcode, length) => {
    if (length > MAX_DOWN_FRAME) return false
    if (opcode === 0x8) this.#workerClosed = true
    return true
  })
  readonly #up: WsFrameScanner
  #phase: 'head' | 'frames' | 'http' = 'head'
  #pendingClose: Buffer | null = null
  #closeSent = false
  #workerClosed = false
  #released = false
  #deadline: NodeJS.Timeout | null = null
  /** The close code the gateway sent or decided on, if it closed the session. */
  closeCode: number | null = null
  /** Set when the edge cut the client's connection instead of closing it. */
  cut: TunnelEdgeCut | null = null
  readonly #deadlineMs: number
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
    this.#deadlineMs = opts.closeDeadlineMs ?? CLOSE_DEADLINE_MS
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
   * no WebSocket to close: the socket is destroyed. While a close waits for a boundary, later
   * ones are ignored.
   */
  closeWith(code: number, reason: string): void {
    // The first close decided wins: a later one (shutdown, worker lost) must not hide the cause.
    if (this.#closeSent || this.destroyed || this.#pendingClose !== null) return
    if (this.#phase !== 'frames') return void this.destroy()
    this.closeCode = code
    const frame = closeFrame(code, reason)
    if (this.#down.atBoundary) return this.#send(this.#workerClosed ? NO_BYTES : frame)
    this.#pendingClose = frame
    // One timer per closing session, never per frame; unref'd so it holds no process open.
    this.#deadline ??= setTimeout(() => this.#cut('close_deadline'), this.#deadlineMs)
    this.#deadline.unref()
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
      if (this.#down.scan(chunk) === -1) return (this.#cut('frame_length'), callback())
      return void this.#client.write(chunk, callback)
    }
    const end = this.#down.scan(chunk, 0, true)
    if (end === -1) return (this.#cut('frame_length'), callback())
    if (this.#down.atBoundary) {
      // After the worker's own close frame no second one may follow.
      const done = chunk.subarray(0, end)
      this.#send(this.#workerClosed ? done : Buffer.concat([done, pending]))
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

  // No close frame can go out in time (or at all): drop the connection, as TCP would.
  #cut(reason: TunnelEdgeCut): void {
    if (this.#closeSent || this.destroyed) return
    this.cut = reason
    this.#opts.onCut?.(reason)
    this.#client.destroy()
    this.destroy()
  }

  #detach(): void {
    if (this.#throttle !== null) clearTimeout(this.#throttle)
    this.#throttle = null
    if (this.#deadline !== null) clearTimeout(this.#deadline)
    this.#deadline = null
    this.#client.off('data', this.#onData)
    this.#client.off('end', this.#onEnd)
    // 'close' stays: the edge lives as long as the client's socket.
  }

  #fromClient(chunk: Buffer): void {
    // Once a close is decided the session is over: nothing more reaches the worker.
    if (this.#closeSent || this.closeCode !== null) return
    if (this.#phase === 'frames' || this.#phase === 'head') {
      if (this.#up.scan(chunk) === -1) {
        // The frames before the refused one go through; not one byte of its payload does.
        if (this.#up.refusedAt > 0) this.push(chunk.subarray(0, this.#up.refusedAt))
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

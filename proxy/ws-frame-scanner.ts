/**
 * Follows WebSocket frame boundaries in a byte stream without touching
 * payloads: only headers are read (2 to 14 bytes per frame), payload bytes
 * are skipped by count. What a raw tunnel needs to close a session cleanly
 * (a close frame may only go between frames) and to bound frame sizes at the
 * edge, at a cost per frame, not per byte.
 */
export class WsFrameScanner {
  readonly #header = Buffer.alloc(14)
  #have = 0
  #remaining = 0
  /** Opcode of the frame being read, or of the last one completed. */
  opcode = -1
  /** Payload length of the frame being read. */
  length = 0
  /**
   * After a refusal: where the refused frame's header began in the chunk just
   * scanned (the chunk's start when the header began in an earlier chunk).
   */
  refusedAt = -1

  /**
   * @param onHeader called once per frame header; returning false stops the scan
   *   (the caller refuses the frame)
   */
  constructor(readonly onHeader: (opcode: number, length: number) => boolean = () => true) {}

  /** True between frames: a frame may be inserted here. */
  get atBoundary(): boolean {
    return this.#have === 0 && this.#remaining === 0
  }

  /**
   * Advances over `chunk` from `start`. With `stopAtBoundary` it returns the
   * offset just past the first frame that ends in it; otherwise `chunk.length`.
   * Returns -1 when `onHeader` refused a frame.
   */
  scan(chunk: Buffer, start = 0, stopAtBoundary = false): number {
    let at = start
    let headerAt = start
    while (at < chunk.length) {
      if (this.#remaining > 0) {
        const n = Math.min(this.#remaining, chunk.length - at)
        this.#remaining -= n
        at += n
        if (this.#remaining === 0 && stopAtBoundary) return at
        continue
      }
      if (this.#have === 0) headerAt = at
      this.#header[this.#have++] = chunk[at++] as number
      const need = this.#headerLength()
      if (this.#have < need) continue
      this.#have = 0
      if (!this.#onComplete()) {
        this.refusedAt = headerAt
        return -1
      }
      if (this.#remaining === 0 && stopAtBoundary) return at
    }
    return at
  }

  #headerLength(): number {
    if (this.#have < 2) return 2
    const b1 = this.#header[1] as number
    const len7 = b1 & 0x7f
    return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0)
  }

  #onComplete(): boolean {
    const len7 = (this.#header[1] as number) & 0x7f
    let length = len7
    if (len7 === 126) length = this.#header.readUInt16BE(2)
    else if (len7 === 127) {
      const big = this.#header.readBigUInt64BE(2)
      length = big > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(big)
    }
    this.opcode = (this.#header[0] as number) & 0x0f
    this.length = length
    if (!this.onHeader(this.opcode, length)) return false
    this.#remaining = length
    return true
  }
}

/** An unmasked (server to client) close frame. */
export function closeFrame(code: number, reason: string): Buffer {
  const text = Buffer.from(reason.slice(0, 120), 'utf8')
  const frame = Buffer.alloc(4 + text.length)
  frame[0] = 0x88
  frame[1] = 2 + text.length
  frame.writeUInt16BE(code, 2)
  text.copy(frame, 4)
  return frame
}

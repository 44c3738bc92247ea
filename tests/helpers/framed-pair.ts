import { Duplex } from 'node:stream'

/**
 * One end of an in-memory, message-preserving stream pair: what Protomux needs
 * (a framed stream) without encryption, so tests see the exact frames.
 */
export class FramedEnd extends Duplex {
  readonly written: Buffer[] = []
  peer: FramedEnd | null = null
  userData: unknown = null

  constructor() {
    super({ objectMode: true })
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const copy = Buffer.from(chunk)
    this.written.push(copy)
    this.peer?.push(copy)
    cb()
  }

  /** Delivers `frame` as if the remote had written it. */
  inject(frame: Buffer): void {
    this.push(frame)
  }
}

/** Two connected framed ends; or one lone end (peer null) to drive by hand. */
export function createFramedPair(): [FramedEnd, FramedEnd] {
  const a = new FramedEnd()
  const b = new FramedEnd()
  a.peer = b
  b.peer = a
  return [a, b]
}

/** A compact-encoding length-prefixed string, for hand-built frames (lengths under 64 KiB). */
export function lengthPrefixed(s: string): Buffer {
  const bytes = Buffer.from(s)
  const len =
    bytes.length < 0xfd
      ? Buffer.from([bytes.length])
      : Buffer.from([0xfd, bytes.length & 0xff, bytes.length >> 8])
  return Buffer.concat([len, bytes])
}

// Every relay-v2 message is compact-encoding `json`: a length-prefixed JSON text. Protomux asks an
// encoding to measure a value (preencode), then to write it (encode). Rendering the JSON in both
// calls doubles the cost; remembering the last rendering in module state would rely on Protomux
// calling the two back to back for one value. Instead the channel renders each message once into
// an envelope, and the encodings only measure and copy it. Plain values are still accepted (tests,
// cold paths); they are rendered in each call.
import c from 'compact-encoding'
import type { Encoding, EncodingState } from 'protomux'
import { isUtf8 } from 'node:buffer'
import { byteArrayLength, writeByteArray } from './byte-array-body.js'

const BODY_KEY = Buffer.from(',"body":', 'latin1')

/** A message rendered once: a JSON text head, then (for requests and responses) the body. */
export class Envelope {
  /** Bytes of the JSON text, without the length prefix. */
  readonly length: number
  readonly #head: string
  readonly #headBytes: number
  /** The body as a JSON string literal, or null. */
  readonly #text: string | null
  /** The body as bytes to spell as a number array; `undefined`: no body member at all. */
  readonly #bytes: Uint8Array | null | undefined

  private constructor(head: string, text: string | null, bytes: Uint8Array | null | undefined) {
    this.#head = head
    this.#headBytes = Buffer.byteLength(head)
    this.#text = text
    this.#bytes = bytes
    if (bytes === undefined) this.length = this.#headBytes
    else {
      const body = text === null ? byteArrayLength(bytes) : Buffer.byteLength(text)
      this.length = this.#headBytes + BODY_KEY.length + body + 1
    }
  }

  /** Any JSON value, as `JSON.stringify` writes it. */
  static json(value: unknown): Envelope {
    return new Envelope(JSON.stringify(value), null, undefined)
  }

  /** A JSON text rendered by the caller. */
  static text(json: string): Envelope {
    return new Envelope(json, null, undefined)
  }

  /**
   * A message whose members other than `body` are rendered in `head` (an unclosed object,
   * `{"id":1,...`); the body follows last, as legacy code writes it. With `textBody` a UTF-8
   * body travels as a JSON string, otherwise as the legacy number array.
   */
  static withBody(head: string, body: Uint8Array | string | null, textBody: boolean): Envelope {
    if (typeof body === 'string') {
      return textBody
        ? new Envelope(head, JSON.stringify(body), null)
        : new Envelope(head, null, Buffer.from(body, 'utf8'))
    }
    if (body !== null && textBody && isUtf8(body)) {
      return new Envelope(head, JSON.stringify(Buffer.from(body).toString('utf8')), null)
    }
    return new Envelope(head, null, body)
  }

  preencode(state: EncodingState): void {
    c.uint.preencode(state, this.length)
    state.end += this.length
  }

  encode(state: EncodingState): void {
    c.uint.encode(state, this.length)
    const buf = asBuffer(state.buffer as Uint8Array)
    let at = state.start + buf.write(this.#head, state.start, this.#headBytes, 'utf8')
    if (this.#bytes !== undefined) {
      buf.set(BODY_KEY, at)
      at += BODY_KEY.length
      at =
        this.#text === null
          ? writeByteArray(buf, at, this.#bytes)
          : at + buf.write(this.#text, at, 'utf8')
      buf[at++] = 125 // }
    }
    state.start = at
  }
}

/** A compact-encoding for `T` sent as envelopes (or plain values, rendered by `prepare`). */
export function envelopeEncoding<T>(
  prepare: (value: T) => Envelope,
  decode: (state: EncodingState) => T | null,
): Encoding<T | Envelope | null> {
  const envelopeOf = (v: T | Envelope | null): Envelope =>
    v instanceof Envelope ? v : prepare(v as T)
  return {
    preencode: (state, v) => envelopeOf(v).preencode(state),
    encode: (state, v) => envelopeOf(v).encode(state),
    decode,
  }
}

export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

export { BODY_KEY }

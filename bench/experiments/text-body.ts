import { isUtf8 } from 'node:buffer'
import c from 'compact-encoding'
import type { Encoding } from 'protomux'
import { requestEncoding, responseEncoding } from '../../shared/protocol/wire.js'
import type { RelayRequest, RelayResponse } from '../../shared/protocol/wire.js'

/**
 * Experiment `text-body`, applied in the proxy child and in the backend (both ends must agree,
 * as a negotiated capability would make them): request and response bodies that are UTF-8 text
 * travel as a JSON string instead of the legacy array of numbers, which is 3-4 times the size.
 * Only the encoders change: both decoders already accept a string body (wire.ts bodyFromJson).
 * Same framing as the stock encoders: a uint length, then the JSON text.
 */
export function installTextBodies(): void {
  patch<RelayRequest>(requestEncoding, (r) => ({
    id: r.id,
    method: r.method,
    path: r.path,
    headers: r.headers,
    body: (r.body as Buffer).toString('utf8'),
  }))
  patch<RelayResponse>(responseEncoding, (r) => ({
    id: r.id,
    statusCode: r.statusCode,
    headers: r.headers,
    body: (r.body as Buffer).toString('utf8'),
  }))
}

function patch<T extends { body: Buffer | null }>(
  encoding: Encoding<T | null>,
  render: (m: T) => object,
): void {
  const stock = { preencode: encoding.preencode, encode: encoding.encode }
  // Protomux calls preencode then encode for the same value: render once.
  let last: T | null = null
  let text = ''
  const textOf = (m: T): string => {
    if (m !== last) {
      last = m
      text = JSON.stringify(render(m))
    }
    return text
  }
  const isText = (m: T | null): m is T => m !== null && m.body !== null && isUtf8(m.body)
  encoding.preencode = (state, m) => {
    if (!isText(m)) return stock.preencode(state, m)
    c.string.preencode(state, textOf(m))
  }
  encoding.encode = (state, m) => {
    if (!isText(m)) return stock.encode(state, m)
    c.string.encode(state, textOf(m))
    last = null
  }
}

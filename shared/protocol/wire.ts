/**
 * The hypertuna-relay-v2 wire format, in one place: channel identity, message
 * slots, message shapes and their encodings. Byte compatibility with workers in
 * the field is checked against tests/fixtures/relay-v2.json.
 */
import type { Encoding, EncodingState } from 'protomux'
import c from 'compact-encoding'
import crypto from 'hypercore-crypto'
import { isUtf8 } from 'node:buffer'
import {
  byteArrayLength,
  readByteArray,
  trailingByteArray,
  writeByteArray,
} from './byte-array-body.js'

/** Protomux protocol name of the channel. */
export const PROTOCOL_NAME = 'hypertuna-relay-v2'
/** Wire protocol version announced in the handshake. */
export const PROTOCOL_VERSION = '2.0'
/** Discovery topic string; the topic is its BLAKE2b-256 hash. */
export const TOPIC_NAME = 'hypertuna-relay-network'
/** The 32-byte discovery topic workers announce on. */
export const DISCOVERY_TOPIC: Buffer = crypto.hash(Buffer.from(TOPIC_NAME, 'utf8'))

/** Message slots in registration order. Slots may be appended, never reordered. */
export const Slot = {
  REQUEST: 0,
  RESPONSE: 1,
  WSFRAME: 2,
  HEALTH_CHECK: 3,
  HEALTH_RESPONSE: 4,
  TELEMETRY: 5,
} as const

/** Capabilities legacy workers advertise. */
export const LEGACY_CAPABILITIES = ['http', 'websocket', 'health'] as const
/** Capability names, ours included. `push` is the gateway's own extension (docs/protocol.md). */
export const Capability = {
  HTTP: 'http',
  WEBSOCKET: 'websocket',
  HEALTH: 'health',
  TELEMETRY: 'telemetry',
  PUSH: 'push',
  /**
   * Ours: the worker handles the requests of one connectionKey in arrival
   * order, so the gateway may have several in flight per client.
   */
  PIPELINE: 'pipeline',
  /** Ours: UTF-8 bodies may travel as JSON strings, about a third of the size. */
  TEXT_BODY: 'text-body',
  /** Ours: the worker serves `GET /relay-info/:identifier` (a NIP-11 document). */
  RELAY_INFO: 'relay-info',
} as const

export type Headers = Record<string, string>

export interface Handshake {
  version: string
  isServer: boolean
  capabilities: string[]
  role?: string
  isGateway?: boolean
  [extra: string]: unknown
}

export interface RelayRequest {
  id: number
  method: string
  path: string
  headers: Headers
  body: Buffer | null
}

/**
 * What the channel hands the encoder: a body may be text, and `textBody` (set
 * only once both ends negotiated the `text-body` extension) lets UTF-8 bodies
 * travel as a JSON string instead of the number array.
 */
export type Sendable<T extends { body: Buffer | null }> = Omit<T, 'body'> & {
  body: Buffer | string | null
  textBody?: boolean
}

export interface RelayResponse {
  id: number
  statusCode: number
  headers: Headers
  body: Buffer | null
}

export interface HealthCheck {
  id: number
  timestamp: string
}

export interface HealthResponse {
  id: number
  status: string
  timestamp: string
  services: Record<string, unknown>
}

/** A free-form JSON object (wsframe and telemetry slots). */
export type JsonObject = Record<string, unknown>

/**
 * Push extension frames travel in the wsframe slot. Worker to gateway:
 * `{ connectionKey, data }` with `data` one relay message as JSON text, exactly
 * the shape of the legacy vector. Gateway to worker: `{ connectionKey, type: 'close' }`.
 */
export interface PushFrame {
  connectionKey: string
  data: string
}
export interface PushCloseFrame {
  connectionKey: string
  type: 'close'
}

// compact-encoding's json stringifies twice (once to measure, once to write).
// Protomux calls preencode and encode back to back for one value, so remembering
// the last text halves the cost on the per-message path. Same bytes on the wire.
let lastValue: unknown = undefined
let lastText = ''

function textOf(value: unknown, render: (v: never) => string): string {
  if (value !== lastValue || lastValue === undefined) {
    lastText = render(value as never)
    lastValue = value
  }
  return lastText
}

function textEncoding<T>(
  render: (v: T) => string,
  parse: (text: string) => T | null,
): Encoding<T | null> {
  return {
    preencode(state: EncodingState, value: T | null) {
      c.string.preencode(state, textOf(value, render as (v: never) => string))
    },
    encode(state: EncodingState, value: T | null) {
      const text = textOf(value, render as (v: never) => string)
      // Reset so a later, mutated send of the same object is re-rendered.
      lastValue = undefined
      c.string.encode(state, text)
    },
    // Decoding never throws: a throw inside Protomux destroys the whole
    // connection, and one bad message must not cost every session on it.
    decode(state: EncodingState) {
      try {
        return parse(c.string.decode(state))
      } catch {
        return null
      }
    },
  }
}

/** Accepts the legacy number array and the `{type:'Buffer',data}` form newer workers may emit. */
export function bodyFromJson(value: unknown): Buffer | null {
  if (value === null || value === undefined) return null
  if (Array.isArray(value)) return Buffer.from(value as number[])
  if (typeof value === 'string') return Buffer.from(value, 'utf8')
  if (typeof value === 'object' && Array.isArray((value as { data?: unknown }).data)) {
    return Buffer.from((value as { data: number[] }).data)
  }
  throw new TypeError('body is not a byte array')
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0
}

function headersOf(v: unknown): Headers {
  if (!isObject(v)) return {}
  const out: Headers = {}
  for (const k of Object.keys(v)) {
    const value = v[k]
    if (typeof value === 'string') out[k.toLowerCase()] = value
    else if (typeof value === 'number') out[k.toLowerCase()] = String(value)
  }
  return out
}

// Requests and responses are written head first, then the body bytes spelled
// straight into the output buffer as the legacy number array: the same bytes
// JSON.stringify would give, without building that string. Sessions reuse one
// headers object, so its JSON (and the request's method and path) is cached.
const headersJson = new WeakMap<Headers, { method: string; path: string; tail: string }>()

function requestHead(r: Sendable<RelayRequest>): string {
  let cached = headersJson.get(r.headers)
  if (cached === undefined || cached.method !== r.method || cached.path !== r.path) {
    const tail = `,"method":${JSON.stringify(r.method)},"path":${JSON.stringify(r.path)},"headers":${JSON.stringify(r.headers)}`
    cached = { method: r.method, path: r.path, tail }
    headersJson.set(r.headers, cached)
  }
  return `{"id":${r.id}${cached.tail}`
}

function responseHead(r: Sendable<RelayResponse>): string {
  let cached = headersJson.get(r.headers)
  if (cached === undefined || cached.path !== '') {
    cached = { method: '', path: '', tail: `,"headers":${JSON.stringify(r.headers)}` }
    headersJson.set(r.headers, cached)
  }
  return `{"id":${r.id},"statusCode":${r.statusCode}${cached.tail}`
}

const BODY_KEY = Buffer.from(',"body":', 'latin1')

interface Measured {
  value: unknown
  head: string
  headBytes: number
  /** The body as a JSON string literal, when it travels as text. */
  text: string | null
  bytes: Buffer | null
  total: number
}
const NOTHING: Measured = {
  value: undefined,
  head: '',
  headBytes: 0,
  text: null,
  bytes: null,
  total: 0,
}
let measured: Measured = NOTHING

function bodyMessageEncoding<T extends { body: Buffer | null }>(
  headOf: (m: Sendable<T>) => string,
  build: (m: JsonObject, body: Buffer | null) => T | null,
): Encoding<Sendable<T> | null> {
  const measure = (m: Sendable<T>): Measured => {
    if (measured.value === m) return measured
    const head = headOf(m)
    const headBytes = Buffer.byteLength(head)
    let text: string | null = null
    let bytes: Buffer | null = null
    const body = m.body
    if (typeof body === 'string') {
      if (m.textBody === true) text = JSON.stringify(body)
      else bytes = Buffer.from(body, 'utf8')
    } else if (body !== null && m.textBody === true && isUtf8(body)) {
      text = JSON.stringify(body.toString('utf8'))
    } else {
      bytes = body
    }
    const bodyLength = text === null ? byteArrayLength(bytes) : Buffer.byteLength(text)
    const total = headBytes + BODY_KEY.length + bodyLength + 1
    measured = { value: m, head, headBytes, text, bytes, total }
    return measured
  }
  return {
    preencode(state, m) {
      const { total } = measure(m as Sendable<T>)
      c.uint.preencode(state, total)
      state.end += total
    },
    encode(state, m) {
      const { head, headBytes, text, bytes, total } = measure(m as Sendable<T>)
      measured = NOTHING
      c.uint.encode(state, total)
      const buf = asBuffer(state.buffer as Uint8Array)
      let at = state.start
      at += buf.write(head, at, headBytes, 'utf8')
      buf.set(BODY_KEY, at)
      at += BODY_KEY.length
      at = text === null ? writeByteArray(buf, at, bytes) : at + buf.write(text, at, 'utf8')
      buf[at++] = 125 // }
      state.start = at
    },
    decode(state) {
      try {
        const length = c.uint.decode(state)
        const start = state.start
        const end = start + length
        if (end > state.end) throw new RangeError('message overruns its frame')
        state.start = end
        const buf = asBuffer(state.buffer as Uint8Array)
        const bounds = trailingByteArray(buf, start, end)
        const body = bounds === null ? null : readByteArray(buf, bounds[0], bounds[1])
        if (bounds !== null && body !== null) {
          const head: unknown = JSON.parse(
            buf.toString('utf8', start, bounds[0] - BODY_KEY.length) + '}',
          )
          return isObject(head) ? build(head, body) : null
        }
        const m: unknown = JSON.parse(buf.toString('utf8', start, end))
        return isObject(m) ? build(m, bodyFromJson(m.body)) : null
      } catch {
        // Decoding never throws: see textEncoding.
        state.start = state.end
        return null
      }
    },
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

export const requestEncoding = bodyMessageEncoding<RelayRequest>(requestHead, (m, body) => {
  if (!isId(m.id) || typeof m.method !== 'string' || typeof m.path !== 'string') return null
  return {
    id: m.id,
    method: m.method.toUpperCase(),
    path: m.path,
    headers: headersOf(m.headers),
    body,
  }
})

export const responseEncoding = bodyMessageEncoding<RelayResponse>(responseHead, (m, body) => {
  if (!isId(m.id) || typeof m.statusCode !== 'number') return null
  return { id: m.id, statusCode: m.statusCode, headers: headersOf(m.headers), body }
})

export const healthCheckEncoding = textEncoding<HealthCheck>(
  (h) => JSON.stringify({ id: h.id, timestamp: h.timestamp }),
  (text) => {
    const m: unknown = JSON.parse(text)
    if (!isObject(m) || !isId(m.id)) return null
    return { id: m.id, timestamp: typeof m.timestamp === 'string' ? m.timestamp : '' }
  },
)

export const healthResponseEncoding = textEncoding<HealthResponse>(
  (h) =>
    JSON.stringify({ id: h.id, status: h.status, timestamp: h.timestamp, services: h.services }),
  (text) => {
    const m: unknown = JSON.parse(text)
    if (!isObject(m) || !isId(m.id)) return null
    return {
      id: m.id,
      status: typeof m.status === 'string' ? m.status : 'unknown',
      timestamp: typeof m.timestamp === 'string' ? m.timestamp : '',
      services: isObject(m.services) ? m.services : {},
    }
  },
)

/** wsframe and telemetry: any JSON object. */
export const objectEncoding = textEncoding<JsonObject>(
  (o) => JSON.stringify(o),
  (text) => {
    const m: unknown = JSON.parse(text)
    return isObject(m) ? m : null
  },
)

/** Handshake encoding (compact-encoding json, as legacy workers use). */
export const handshakeEncoding = textEncoding<Handshake>(
  (h) => JSON.stringify(h),
  (text) => {
    const m: unknown = JSON.parse(text)
    if (!isObject(m)) return null
    return {
      ...m,
      version: typeof m.version === 'string' ? m.version : '',
      isServer: m.isServer === true,
      capabilities: Array.isArray(m.capabilities)
        ? m.capabilities.filter((x): x is string => typeof x === 'string')
        : [],
    }
  },
)

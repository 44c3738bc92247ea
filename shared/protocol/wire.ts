/**
 * The hypertuna-relay-v2 wire format, in one place: channel identity, message
 * slots, message shapes and their encodings. Byte compatibility with workers in
 * the field is checked against tests/fixtures/relay-v2.json.
 */
import type { Encoding, EncodingState } from 'protomux'
import c from 'compact-encoding'
import crypto from 'hypercore-crypto'
import { readByteArray, trailingByteArray } from './byte-array-body.js'
import { asBuffer, BODY_KEY, Envelope, envelopeEncoding } from './envelope.js'

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
  /** Ours: raw byte streams to local TCP services the worker names (shared/tunnel). */
  TUNNEL: 'tunnel',
  /**
   * Ours: a link the gateway replaces is drained, not dropped: the worker writes its last
   * push there, then acknowledges (shared/protocol/handover-frames.ts).
   */
  HANDOVER: 'handover',
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

/**
 * A message body: bytes, or text. Text is what arrives when the sender wrote a JSON string
 * (`text-body` extension, or newer workers); it is handed on as it came, never turned into a
 * Buffer and back. {@link bodyText} and {@link bodyBytes} read either form.
 */
export type Body = Buffer | string | null

export interface RelayRequest {
  id: number
  method: string
  path: string
  headers: Headers
  body: Body
}

/**
 * What the channel hands the encoder: `textBody` (set only once both ends
 * negotiated the `text-body` extension) lets UTF-8 bodies travel as a JSON
 * string instead of the number array.
 */
export type Sendable<T extends { body: Body }> = T & { textBody?: boolean }

export interface RelayResponse {
  id: number
  statusCode: number
  headers: Headers
  body: Body
}

/** A body as text (UTF-8); '' for none. */
export function bodyText(body: Body): string {
  if (body === null) return ''
  return typeof body === 'string' ? body : body.toString('utf8')
}

/** A body as bytes; null for none. */
export function bodyBytes(body: Body): Buffer | null {
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : body
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

function textEncoding<T>(
  render: (v: T) => string,
  parse: (text: string) => T | null,
): Encoding<T | Envelope | null> {
  return envelopeEncoding<T>(
    (v) => Envelope.text(render(v)),
    // Decoding never throws: a throw inside Protomux destroys the whole
    // connection, and one bad message must not cost every session on it.
    (state) => {
      try {
        return parse(c.string.decode(state))
      } catch {
        return null
      }
    },
  )
}

/** Accepts the legacy number array, text, and the `{type:'Buffer',data}` form newer workers may emit. */
export function bodyFromJson(value: unknown): Body {
  if (value === null || value === undefined) return null
  if (typeof value === 'string') return value
  if (Array.isArray(value)) return Buffer.from(value as number[])
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

// Requests and responses are written head first, then the body, spelled straight into the
// frame (envelope.ts). Sessions reuse one headers object per session, so its JSON (and the
// request's method and path) is remembered per object; a headers object must therefore not be
// changed once it has been sent.
const headersJson = new WeakMap<Headers, { method: string; path: string; tail: string }>()

function requestHead(r: RelayRequest): string {
  let cached = headersJson.get(r.headers)
  if (cached === undefined || cached.method !== r.method || cached.path !== r.path) {
    const tail = `,"method":${JSON.stringify(r.method)},"path":${JSON.stringify(r.path)},"headers":${JSON.stringify(r.headers)}`
    cached = { method: r.method, path: r.path, tail }
    headersJson.set(r.headers, cached)
  }
  return `{"id":${r.id}${cached.tail}`
}

function responseHead(r: RelayResponse): string {
  let cached = headersJson.get(r.headers)
  if (cached === undefined || cached.path !== '') {
    cached = { method: '', path: '', tail: `,"headers":${JSON.stringify(r.headers)}` }
    headersJson.set(r.headers, cached)
  }
  return `{"id":${r.id},"statusCode":${r.statusCode}${cached.tail}`
}

/** A request rendered once, for {@link requestEncoding}. */
export function requestEnvelope(r: RelayRequest, textBody: boolean): Envelope {
  return Envelope.withBody(requestHead(r), r.body, textBody)
}

/** A response rendered once, for {@link responseEncoding}. */
export function responseEnvelope(r: RelayResponse, textBody: boolean): Envelope {
  return Envelope.withBody(responseHead(r), r.body, textBody)
}

function decodeWithBody<T>(
  build: (m: JsonObject, body: Body) => T | null,
): (state: EncodingState) => T | null {
  return (state) => {
    try {
      const length = c.uint.decode(state)
      const start = state.start
      const end = start + length
      if (end > state.end) throw new RangeError('message overruns its frame')
      state.start = end
      const buf = asBuffer(state.buffer as Uint8Array)
      // Legacy layout (body last, a number array): read the digits straight into bytes.
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
  }
}

export const requestEncoding = envelopeEncoding<Sendable<RelayRequest>>(
  (r) => requestEnvelope(r, r.textBody === true),
  decodeWithBody<Sendable<RelayRequest>>((m, body) => {
    if (!isId(m.id) || typeof m.method !== 'string' || typeof m.path !== 'string') return null
    return {
      id: m.id,
      method: m.method.toUpperCase(),
      path: m.path,
      headers: headersOf(m.headers),
      body,
    }
  }),
)

export const responseEncoding = envelopeEncoding<Sendable<RelayResponse>>(
  (r) => responseEnvelope(r, r.textBody === true),
  decodeWithBody<Sendable<RelayResponse>>((m, body) => {
    if (!isId(m.id) || typeof m.statusCode !== 'number') return null
    return { id: m.id, statusCode: m.statusCode, headers: headersOf(m.headers), body }
  }),
)

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

import { EventEmitter } from 'node:events'
import Protomux from 'protomux'
import type { Channel, ProtomuxMessage } from 'protomux'
import { ErrorCode, GatewayError } from '../errors.js'
import { Envelope } from './envelope.js'
import { PendingCalls } from './pending-calls.js'
import { toRelayResponse } from './route-response.js'
import { TurnCork } from './turn-cork.js'
import type { PendingKind } from './pending-calls.js'
import type { Router, RouteResponse } from './router.js'
import { splitPath } from './router.js'
import {
  Capability,
  handshakeEncoding,
  healthCheckEncoding,
  healthResponseEncoding,
  objectEncoding,
  PROTOCOL_NAME,
  PROTOCOL_VERSION,
  requestEncoding,
  requestEnvelope,
  responseEncoding,
  responseEnvelope,
} from './wire.js'
import type {
  Body,
  Handshake,
  Headers,
  HealthCheck,
  HealthResponse,
  JsonObject,
  RelayRequest,
  RelayResponse,
  Sendable,
} from './wire.js'

/** Options of {@link RelayChannel}. */
export interface RelayChannelOptions<Ctx = unknown> {
  /** Our side of the handshake's `isServer`. Workers are servers. */
  isServer: boolean
  /** Adds `role: 'gateway'` and `isGateway: true` to our handshake. */
  gateway?: boolean
  /** Capabilities we advertise. Defaults to the legacy three. */
  capabilities?: readonly string[]
  /** Extension fields appended to our handshake (after the legacy keys), e.g. `tunnels`. */
  handshakeExtra?: Readonly<Record<string, unknown>>
  /** Default per-request timeout (legacy: 30 s). */
  requestTimeoutMs?: number
  /** Default health-check timeout (legacy: 5 s). */
  healthTimeoutMs?: number
  /** Serves incoming requests. Without one, every request is unmatched. */
  router?: Router<Ctx, RelayChannel<Ctx>> | Router<Ctx>
  /** Context handed to route handlers. */
  context?: Ctx
  /** What our health responses report under `services`. */
  healthServices?: () => Record<string, unknown>
  /** Clock for health-check timestamps (tests pin it). */
  now?: () => number
}

/** A request to send; `id` is assigned by the channel. */
export interface OutgoingRequest {
  method: string
  path: string
  headers?: Headers
  /** Bytes, or text (sent as a JSON string when `text-body` was negotiated). */
  body?: Body
}

const EMPTY_HEADERS: Headers = Object.freeze({}) as Headers

/**
 * Typed endpoint of one hypertuna-relay-v2 Protomux channel.
 *
 * Events: `open` (remote handshake), `close`, `wsframe` (object), `telemetry`
 * (object), `unmatched` (request, respond) for requests no route serves (a 404
 * is sent when nobody listens), `protocol-error` (GatewayError) for messages
 * that could not be decoded.
 */
export class RelayChannel<Ctx = unknown> extends EventEmitter {
  readonly #channel: Channel<Handshake | Envelope | null>
  readonly #request: ProtomuxMessage<Sendable<RelayRequest> | Envelope | null>
  readonly #response: ProtomuxMessage<Sendable<RelayResponse> | Envelope | null>
  /** Both ends speak `text-body`: UTF-8 bodies go as JSON strings. */
  #textBody = false
  readonly #wsframe: ProtomuxMessage<JsonObject | Envelope | null>
  readonly #healthCheck: ProtomuxMessage<HealthCheck | Envelope | null>
  readonly #healthResponse: ProtomuxMessage<HealthResponse | Envelope | null>
  readonly #telemetry: ProtomuxMessage<JsonObject | Envelope | null>
  readonly #pending = new PendingCalls()
  readonly #opts: RelayChannelOptions<Ctx>
  readonly #requestTimeoutMs: number
  readonly #healthTimeoutMs: number
  readonly #opened: Promise<Handshake>
  #resolveOpened!: (h: Handshake) => void
  #rejectOpened!: (err: Error) => void
  #nextId = 0
  #remote: Handshake | null = null
  #closed = false
  /** Both ends speak `pipeline`, so the remote sends (and reads) batches: see #coalesce. */
  #coalescing = false
  /** Corks taken through {@link cork} and not yet released. */
  #corks = 0
  /** Shares one frame among a loop turn's sends (see #coalesce). */
  readonly #turn = new TurnCork(
    () => this.#channel.cork(),
    () => this.#channel.uncork(),
  )

  constructor(streamOrMux: unknown, opts: RelayChannelOptions<Ctx>) {
    super()
    this.#opts = opts
    this.#requestTimeoutMs = opts.requestTimeoutMs ?? 30_000
    this.#healthTimeoutMs = opts.healthTimeoutMs ?? 5_000
    this.#opened = new Promise<Handshake>((resolve, reject) => {
      this.#resolveOpened = resolve
      this.#rejectOpened = reject
    })
    // Nobody may be awaiting `opened()`; the rejection is still observed via `close`.
    this.#opened.catch(() => {})

    const mux = Protomux.from(streamOrMux)
    const channel = mux.createChannel<Handshake | Envelope | null>({
      protocol: PROTOCOL_NAME,
      id: null,
      handshake: handshakeEncoding,
      onopen: (handshake) => this.#onOpen(handshake as Handshake | null),
      onclose: () => this.#onClose(),
    })
    if (channel === null) {
      throw new GatewayError(ErrorCode.PROTOCOL_ERROR, 'relay-v2 channel already open on stream')
    }
    this.#channel = channel
    // Slot order is the wire contract (wire.ts Slot); never reorder.
    this.#request = channel.addMessage({
      encoding: requestEncoding,
      onmessage: (m) => this.#onRequest(m as RelayRequest | null),
    })
    this.#response = channel.addMessage({
      encoding: responseEncoding,
      onmessage: (m) => this.#onResponse(m as RelayResponse | null),
    })
    this.#wsframe = channel.addMessage({
      encoding: objectEncoding,
      onmessage: (m) => this.#onObject('wsframe', m as JsonObject | null),
    })
    this.#healthCheck = channel.addMessage({
      encoding: healthCheckEncoding,
      onmessage: (m) => this.#onHealthCheck(m as HealthCheck | null),
    })
    this.#healthResponse = channel.addMessage({
      encoding: healthResponseEncoding,
      onmessage: (m) => this.#onResponse(m as HealthResponse | null),
    })
    this.#telemetry = channel.addMessage({
      encoding: objectEncoding,
      onmessage: (m) => this.#onObject('telemetry', m as JsonObject | null),
    })
    channel.open(this.localHandshake())
  }

  /** The handshake we send; key order matches legacy workers byte for byte. */
  localHandshake(): Handshake {
    const h: Handshake = {
      version: PROTOCOL_VERSION,
      isServer: this.#opts.isServer,
      capabilities: [...(this.#opts.capabilities ?? ['http', 'websocket', 'health'])],
    }
    if (this.#opts.gateway === true) {
      h.role = 'gateway'
      h.isGateway = true
    }
    if (this.#opts.handshakeExtra !== undefined) Object.assign(h, this.#opts.handshakeExtra)
    return h
  }

  /** The remote handshake once open, else null. */
  get remoteHandshake(): Handshake | null {
    return this.#remote
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Number of requests and health checks awaiting an answer. */
  get pendingCount(): number {
    return this.#pending.size
  }

  /** True when the last write did not need buffering (stream backpressure). */
  get drained(): boolean {
    return this.#channel.drained
  }

  /** Resolves with the remote handshake; rejects with CHANNEL_CLOSED if closed first. */
  opened(): Promise<Handshake> {
    return this.#opened
  }

  /** True when both sides advertise `capability`. */
  supports(capability: string): boolean {
    if (this.#remote === null || !this.#remote.capabilities.includes(capability)) return false
    return (this.#opts.capabilities ?? []).includes(capability)
  }

  /** True when the remote handshake names it a gateway (`role` or `isGateway`). */
  get remoteIsGateway(): boolean {
    return (
      this.#remote !== null && (this.#remote.role === 'gateway' || this.#remote.isGateway === true)
    )
  }

  /** Sends a request and resolves with its response (any status). */
  request(req: OutgoingRequest, opts: { timeoutMs?: number } = {}): Promise<RelayResponse> {
    // Until the remote handshake, requests wait for it (the only extra promise on this path).
    if (this.#remote === null) return this.#opened.then(() => this.request(req, opts))
    const id = this.#nextId++
    const promise = this.#track<RelayResponse>(
      id,
      'request',
      opts.timeoutMs ?? this.#requestTimeoutMs,
    )
    const message: RelayRequest = {
      id,
      method: req.method,
      path: req.path,
      headers: req.headers ?? EMPTY_HEADERS,
      body: req.body ?? null,
    }
    if (!this.#closed) {
      this.#coalesce()
      this.#request.send(requestEnvelope(message, this.#textBody))
    }
    return promise
  }

  /** Sends a health check; resolves with the response and the round trip in ms. */
  async healthCheck(
    opts: { timeoutMs?: number } = {},
  ): Promise<HealthResponse & { rttMs: number }> {
    if (this.#remote === null) await this.#opened
    const id = this.#nextId++
    const started = performance.now()
    const promise = this.#track<HealthResponse>(
      id,
      'health',
      opts.timeoutMs ?? this.#healthTimeoutMs,
    )
    this.#healthCheck.send({ id, timestamp: this.#timestamp() })
    const res = await promise
    return { ...res, rttMs: performance.now() - started }
  }

  /**
   * Holds this connection's writes until the matching {@link uncork}, then sends them as one
   * Protomux batch (one stream write): for several requests leaving at once. Every Protomux
   * peer reads batches; a lone message is best sent uncorked (it keeps the plain frame). Towards
   * a `pipeline` peer the channel batches a whole turn of the loop by itself (see #coalesce).
   */
  cork(): void {
    if (this.#closed) return
    this.#corks++
    this.#channel.cork()
  }

  // Protomux counts corks on the whole stream (tunnel channels too): release every cork taken,
  // even once this channel closed, or the stream's later messages would wait for ever.
  uncork(): void {
    if (this.#corks === 0) return
    this.#corks--
    this.#channel.uncork()
  }

  /** Sends a wsframe object. Returns false when the stream is backed up. */
  sendWsFrame(frame: JsonObject): boolean {
    if (this.#closed) return false
    this.#coalesce()
    return this.#wsframe.send(Envelope.json(frame))
  }

  /** Sends a telemetry object, only if the remote speaks slot 5 (else it would be dropped). */
  sendTelemetry(payload: JsonObject): boolean {
    if (this.#closed || this.#remote === null) return false
    if (!this.#remote.capabilities.includes(Capability.TELEMETRY)) return false
    return this.#telemetry.send(Envelope.json(payload))
  }

  /** Closes the channel (not the stream). Pending calls reject with CHANNEL_CLOSED. */
  async close(): Promise<void> {
    if (!this.#closed) this.#channel.close()
    this.#onClose()
  }

  #track<T>(id: number, kind: PendingKind, timeoutMs: number): Promise<T> {
    if (this.#closed) {
      return Promise.reject(
        new GatewayError(ErrorCode.CHANNEL_CLOSED, 'relay-v2 channel is closed'),
      )
    }
    return this.#pending.track<T>(id, kind, timeoutMs)
  }

  #onOpen(handshake: Handshake | null): void {
    if (handshake === null) {
      this.#protocolError('handshake is not a JSON object')
      this.#remote = { version: '', isServer: false, capabilities: [] }
    } else {
      this.#remote = handshake
    }
    this.#textBody = this.supports(Capability.TEXT_BODY)
    this.#coalescing = this.supports(Capability.PIPELINE)
    this.#resolveOpened(this.#remote)
    this.emit('open', this.#remote)
  }

  #onClose(): void {
    if (this.#closed) return
    this.#closed = true
    const err = new GatewayError(ErrorCode.CHANNEL_CLOSED, 'relay-v2 channel closed')
    this.#rejectOpened(err)
    this.#pending.rejectAll(err)
    this.emit('close')
  }

  #onResponse(message: RelayResponse | HealthResponse | null): void {
    if (message === null) return this.#protocolError('malformed response')
    // A late answer to a call that already timed out is normal; settle() drops it.
    this.#pending.settle(message.id, message)
  }

  #onObject(kind: 'wsframe' | 'telemetry', message: JsonObject | null): void {
    if (message === null) return this.#protocolError(`malformed ${kind}`)
    this.emit(kind, message)
  }

  #onHealthCheck(message: HealthCheck | null): void {
    if (message === null) return this.#protocolError('malformed health check')
    this.#healthResponse.send(
      Envelope.json({
        id: message.id,
        status: 'healthy',
        timestamp: this.#timestamp(),
        services: this.#opts.healthServices?.() ?? {},
      }),
    )
  }

  #onRequest(message: RelayRequest | null): void {
    if (message === null) return this.#protocolError('malformed request')
    const respond = (res: RouteResponse): void => this.#respond(message, res)
    const { pathname, query } = splitPath(message.path)
    const match = this.#opts.router?.match(message.method, pathname) ?? null
    if (match === null) {
      if (this.listenerCount('unmatched') > 0) this.emit('unmatched', message, respond)
      else respond({ statusCode: 404, body: { error: 'not found', path: pathname } })
      return
    }
    const req = {
      method: message.method,
      path: pathname,
      params: match.params,
      query,
      headers: message.headers,
      body: message.body,
    }
    let result: RouteResponse | Promise<RouteResponse>
    try {
      result = match.handler(req, this.#opts.context as Ctx, this)
    } catch (err) {
      return this.#handlerFailed(message, err)
    }
    if (result instanceof Promise) {
      result.then(respond, (err: unknown) => this.#handlerFailed(message, err))
    } else {
      respond(result)
    }
  }

  #handlerFailed(message: RelayRequest, err: unknown): void {
    this.emit('handler-error', err, message)
    this.#respond(message, { statusCode: 500, body: { error: 'internal error' } })
  }

  #respond(req: RelayRequest, res: RouteResponse): void {
    if (this.#closed) return
    this.#coalesce()
    this.#response.send(responseEnvelope(toRelayResponse(req, res), this.#textBody))
  }

  // Only towards a peer that negotiated `pipeline` (it sends batches itself): what a legacy
  // peer receives stays what it always did.
  #coalesce(): void {
    if (this.#coalescing) this.#turn.sending()
  }

  #timestamp(): string {
    return new Date(this.#opts.now?.() ?? Date.now()).toISOString()
  }

  #protocolError(what: string): void {
    this.emit('protocol-error', new GatewayError(ErrorCode.PROTOCOL_ERROR, what))
  }
}

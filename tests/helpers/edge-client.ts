import { request as httpRequest } from 'node:http'
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { AbstractRelay } from 'nostr-tools/abstract-relay'
import type { AbstractRelayConstructorOptions } from 'nostr-tools/abstract-relay'
import { verifyEvent } from 'nostr-tools/pure'
import { WebSocket } from 'ws'
import { loopbackLookup } from './caddy.js'

/** How nostr-tools constructs a socket: the URL alone. */
type WebSocketClass = new (address: string | URL, protocols?: string | string[]) => WebSocket

/** Options of {@link connectRelay}. */
export interface EdgeClientOptions {
  /** Root certificate to trust for wss:// (Caddy's internal CA); absent for ws://. */
  ca?: string
  /** Extra handshake headers, e.g. `authorization: Bearer <token>`. */
  headers?: Record<string, string>
}

const TIMEOUT_MS = 15_000

/**
 * A nostr-tools relay client connected to `url` through the edge. nostr-tools opens sockets
 * with the URL alone, so the CA, the loopback lookup (`localhost` is the certificate's name)
 * and any headers are bound in a `ws` subclass handed to it as its WebSocket implementation;
 * nothing global is changed.
 *
 * The EOSE fallback timer is pushed far out, so an EOSE the test sees came from the relay.
 */
export async function connectRelay(
  url: string,
  options: EdgeClientOptions = {},
): Promise<AbstractRelay> {
  const relay = new AbstractRelay(url, {
    verifyEvent,
    // nostr-tools types this as the DOM WebSocket; `ws` is what it runs on in Node 20.
    websocketImplementation: edgeWebSocket(
      options,
    ) as unknown as AbstractRelayConstructorOptions['websocketImplementation'],
  })
  relay.baseEoseTimeout = 60_000
  // The first message of a session waits for the proxy to dial the worker.
  relay.publishTimeout = TIMEOUT_MS
  await relay.connect({ timeout: TIMEOUT_MS })
  return relay
}

function edgeWebSocket(options: EdgeClientOptions): WebSocketClass {
  const wsOptions = {
    lookup: loopbackLookup,
    ...(options.ca === undefined ? {} : { ca: options.ca }),
    ...(options.headers === undefined ? {} : { headers: options.headers }),
  }
  return class EdgeWebSocket extends WebSocket {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols, wsOptions)
    }
  }
}

/** A response with its body as bytes. */
export interface BinaryResponse {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly body: Buffer
}

/**
 * One GET (or other method) over a fresh connection, body kept as bytes; `https:` URLs are
 * verified against `ca` and `localhost` resolves to 127.0.0.1.
 */
export function requestBinary(
  url: string,
  init: {
    ca?: string
    method?: string
    headers?: OutgoingHttpHeaders
    body?: string
    signal?: AbortSignal
  } = {},
): Promise<BinaryResponse> {
  const target = new URL(url)
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: init.method ?? 'GET',
        headers: init.headers ?? {},
        lookup: loopbackLookup,
        // A fresh connection per request: nothing is left open to keep the process alive.
        agent: false,
        timeout: TIMEOUT_MS,
        ...(init.ca === undefined ? {} : { ca: init.ca }),
        ...(init.signal === undefined ? {} : { signal: init.signal }),
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('error', reject)
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        )
      },
    )
    req.on('timeout', () => req.destroy(new Error(`${target.pathname}: no answer in time`)))
    req.on('error', reject)
    req.end(init.body)
  })
}

/**
 * A `fetch` answering `https:` URLs over node:https trusting `ca`, for RegistrarClient's `fetch`
 * option: Node 20 reads extra roots (NODE_EXTRA_CA_CERTS) only at start-up, long before a test's
 * Caddy has made its CA. Covers what RegistrarHttp uses: method, string headers, a string body,
 * a signal.
 */
export function trustedFetch(ca: string): typeof fetch {
  const original = globalThis.fetch
  return async (input, init) => {
    if (typeof input !== 'string' && !(input instanceof URL)) {
      throw new TypeError('trustedFetch: only string or URL inputs are supported')
    }
    const url = new URL(input)
    if (url.protocol !== 'https:') return original(input, init)
    if (init?.body !== undefined && init.body !== null && typeof init.body !== 'string') {
      throw new TypeError('trustedFetch: only string bodies are supported')
    }
    const headers: Record<string, string> = {}
    new Headers(init?.headers).forEach((value, name) => (headers[name] = value))
    const res = await requestBinary(url.href, {
      ca,
      method: init?.method ?? 'GET',
      headers,
      ...(typeof init?.body === 'string' ? { body: init.body } : {}),
      ...(init?.signal == null ? {} : { signal: init.signal }),
    })
    const out = new Headers()
    for (const [name, value] of Object.entries(res.headers)) {
      for (const v of Array.isArray(value) ? value : [value ?? '']) out.append(name, v)
    }
    const empty = res.status === 204 || res.status === 304 || init?.method === 'HEAD'
    return new Response(empty ? null : res.body, { status: res.status, headers: out })
  }
}

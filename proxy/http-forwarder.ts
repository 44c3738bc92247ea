import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { GatewayError } from '../shared/errors.js'
import type { Headers } from '../shared/protocol/wire.js'
import { bodyBytes } from '../shared/protocol/wire.js'
import type { PeerPool } from '../shared/swarm/peer-pool.js'
import type { ProxyMetrics } from './proxy-metrics.js'
import type { RegistrationCache } from './registration-cache.js'

// Request headers worth passing to a worker; never credentials or cookies.
const FORWARDED = ['accept', 'accept-encoding', 'range', 'if-none-match', 'if-modified-since']
// RFC 9110 7.6.1 connection-specific headers, plus framing we set ourselves.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
  'content-length',
])
const MAX_ATTEMPTS = 3

/** Options of {@link HttpForwarder}. */
export interface HttpForwarderOptions {
  pool: PeerPool
  cache: RegistrationCache
  metrics: ProxyMetrics
  logger: Logger
}

/**
 * Serves `GET`/`HEAD` `/drive/:identifier/:file` and `/pfp/...` from a worker:
 * the worker's status, headers (hop-by-hop stripped) and bytes, trying another
 * worker when one fails.
 */
export class HttpForwarder {
  readonly #o: HttpForwarderOptions

  constructor(opts: HttpForwarderOptions) {
    this.#o = opts
  }

  /** True when the path is one this forwarder serves. */
  handles(pathname: string): boolean {
    return pathname.startsWith('/drive/') || pathname.startsWith('/pfp/')
  }

  async handle(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    const route = pathname.startsWith('/drive/') ? 'drive' : 'pfp'
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(
        res,
        405,
        { error: 'method not allowed', code: 'method_not_allowed' },
        { allow: 'GET, HEAD' },
      )
    }
    const parts = pathname.split('/').filter(Boolean)
    if (
      (route === 'drive' && parts.length !== 3) ||
      (route === 'pfp' && (parts.length < 2 || parts.length > 3))
    ) {
      return send(res, 404, { error: 'not found', code: 'not_found' })
    }
    const peers = await this.#candidates(route, parts[1] as string)
    if (peers === null) return send(res, 404, { error: 'relay unknown', code: 'relay_unknown' })
    const headers: Headers = {}
    for (const name of FORWARDED) {
      const value = req.headers[name]
      if (typeof value === 'string') headers[name] = value
    }
    const tried = new Set<string>()
    let lastError = 'no worker available'
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const peer = this.#o.pool.select(peers, tried)
      if (peer === null) break
      tried.add(peer)
      try {
        const answer = await this.#o.pool.request(peer, {
          method: req.method,
          path: req.url ?? pathname,
          headers,
        })
        this.#o.metrics.httpForwards.inc({
          route,
          status: `${Math.floor(answer.statusCode / 100)}xx`,
        })
        const out: Record<string, string> = {}
        for (const [k, v] of Object.entries(answer.headers)) if (!HOP_BY_HOP.has(k)) out[k] = v
        const body = bodyBytes(answer.body) ?? Buffer.alloc(0)
        const workerLength = answer.headers['content-length']
        out['content-length'] =
          req.method === 'HEAD' && workerLength !== undefined ? workerLength : String(body.length)
        res.writeHead(answer.statusCode, out)
        res.end(req.method === 'HEAD' ? undefined : body)
        return
      } catch (err) {
        lastError = err instanceof GatewayError ? err.code : 'internal error'
        this.#o.logger.warn(
          { peer, route, code: lastError },
          'forward failed; trying another worker',
        )
      }
    }
    this.#o.metrics.httpForwards.inc({ route, status: 'failed' })
    send(res, 502, { error: `no worker could serve this (${lastError})`, code: 'bad_gateway' })
  }

  // Drive files belong to a relay; avatars name none, so any connected worker may answer.
  async #candidates(route: string, identifier: string): Promise<string[] | null> {
    if (route === 'pfp') return this.#o.pool.keysInState('ready')
    const registration = await this.#o.cache.resolve(identifier)
    return registration?.peers ?? null
  }
}

/** Writes a small JSON answer. */
export function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  })
  res.end(text)
}

import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { ErrorCode, GatewayError, wireCode } from '../shared/errors.js'
import { isSecretParam } from '../shared/log/redact-query.js'
import type { Headers } from '../shared/protocol/wire.js'
import { bodyBytes } from '../shared/protocol/wire.js'
import type { Registration } from '../shared/store/gateway-store.js'
import type { PeerPool } from '../shared/swarm/peer-pool.js'
import type { ProxyMetrics } from './proxy-metrics.js'
import type { RegistrationCache } from './registration-cache.js'
import { pathIdentifiers } from './relay-target.js'
import type { TunnelHttp } from './tunnel-http.js'
import { HOP_BY_HOP_HEADERS } from './hop-by-hop.js'

// Request headers worth passing to a worker; never credentials or cookies.
const FORWARDED = ['accept', 'accept-encoding', 'range', 'if-none-match', 'if-modified-since']
// Connection-specific headers, plus framing we set ourselves.
const HOP_BY_HOP = new Set([...HOP_BY_HOP_HEADERS, 'content-length'])
const MAX_ATTEMPTS = 3
/** Query parameter naming the relay of an avatar: `/pfp/<file>?relay=<identifier>`. */
export const PFP_RELAY_PARAM = 'relay'

/** The part of {@link RegistrationCache} the forwarder uses. */
export type RelayResolver = Pick<RegistrationCache, 'resolve'>
/** The part of {@link PeerPool} the forwarder uses. */
export type ForwardPool = Pick<PeerPool, 'select' | 'request'>
/** The part of {@link ProxyMetrics} the forwarder uses. */
export type ForwardMetrics = Pick<ProxyMetrics, 'httpForwards'>

/** Options of {@link HttpForwarder}. */
export interface HttpForwarderOptions {
  pool: ForwardPool
  cache: RelayResolver
  metrics: ForwardMetrics
  logger: Logger
  /** Workers offering their HTTP service as a tunnel are asked through it (streamed). */
  tunnel?: Pick<TunnelHttp, 'pick' | 'forward'>
}

/**
 * Serves `GET`/`HEAD` `/drive/:identifier/:file` and `/pfp/...` from a worker of the relay the
 * request names: the worker's status, headers (hop-by-hop stripped) and bytes, trying another
 * of that relay's workers when one fails. Credentials in the query never reach a worker.
 *
 * A `/pfp` request names its relay (docs/protocol.md) by, in order: `?relay=<identifier>`;
 * the owner segment of `/pfp/:owner/:file` when it is a relay identifier (key, `npub:name`,
 * alias); the relay page it was loaded from (`Referer: https://gateway/<relay>`). Without
 * one it is refused (404 `relay_unknown`): avatars are never asked of an unrelated worker.
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
    // A client that goes away mid-answer must not take the process with it.
    res.on('error', (err) => this.#o.logger.debug({ err: err.message }, 'forward answer error'))
    const route = pathname.startsWith('/drive/') ? 'drive' : 'pfp'
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(
        res,
        405,
        { error: 'method not allowed', code: wireCode(ErrorCode.METHOD_NOT_ALLOWED) },
        { allow: 'GET, HEAD' },
      )
    }
    const parts = pathname.split('/').filter(Boolean)
    if (
      (route === 'drive' && parts.length !== 3) ||
      (route === 'pfp' && (parts.length < 2 || parts.length > 3))
    ) {
      return send(res, 404, { error: 'not found', code: wireCode(ErrorCode.NOT_FOUND) })
    }
    const url = req.url ?? pathname
    const query = new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '')
    const registration =
      route === 'drive'
        ? await this.#resolve([parts[1] as string])
        : await this.#avatarRelay(req, parts, query)
    if (registration === null) {
      const error =
        route === 'pfp' ? 'name the relay: /pfp/<relay>/<file> or ?relay=<relay>' : 'relay unknown'
      return send(res, 404, { error, code: wireCode(ErrorCode.RELAY_UNKNOWN) })
    }
    const headers: Headers = {}
    for (const name of FORWARDED) {
      const value = req.headers[name]
      if (typeof value === 'string') headers[name] = value
    }
    const path = forwardedPath(pathname, query, route === 'pfp')
    const tried = new Set<string>()
    let lastError = 'no worker available'
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const tunnel = this.#o.tunnel
      const untried = registration.peers.filter((p) => !tried.has(p))
      const tunnelPeer = (await tunnel?.pick(untried, registration.relayKey)) ?? null
      if (tunnel !== undefined && tunnelPeer !== null) {
        tried.add(tunnelPeer)
        // The worker's HTTP service sees the relay key, whatever identifier the client used.
        const tunnelPath =
          route === 'drive'
            ? path.replace(/^\/drive\/[^/]+/, `/drive/${registration.relayKey}`)
            : path
        const outcome = await tunnel.forward(req, res, {
          peer: tunnelPeer,
          relayKey: registration.relayKey,
          path: tunnelPath,
          route,
        })
        if (outcome.answered) return
        lastError = outcome.code
        this.#o.logger.warn(
          { peer: tunnelPeer, route, code: lastError },
          'tunnel forward failed; trying another worker',
        )
        continue
      }
      const peer = this.#o.pool.select(registration.peers, tried)
      if (peer === null) break
      tried.add(peer)
      try {
        const answer = await this.#o.pool.request(peer, { method: req.method, path, headers })
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
    send(res, 502, {
      error: `no worker could serve this (${lastError})`,
      code: wireCode(ErrorCode.BAD_GATEWAY),
    })
  }

  async #avatarRelay(
    req: IncomingMessage,
    parts: string[],
    query: URLSearchParams,
  ): Promise<Registration | null> {
    const named = query.get(PFP_RELAY_PARAM)
    if (named !== null) return this.#resolve(pathIdentifiers(named) ?? [])
    if (parts.length === 3) {
      const owner = await this.#resolve(pathIdentifiers(parts[1] as string) ?? [])
      if (owner !== null) return owner
    }
    return this.#resolve(refererIdentifiers(req.headers.referer))
  }

  async #resolve(identifiers: readonly string[]): Promise<Registration | null> {
    for (const id of identifiers) {
      const registration = await this.#o.cache.resolve(id)
      if (registration !== null) return registration
    }
    return null
  }
}

// The relay page lives at /<relay>; an avatar it shows carries that page as its Referer.
function refererIdentifiers(referer: string | undefined): string[] {
  if (referer === undefined) return []
  try {
    return pathIdentifiers(new URL(referer).pathname) ?? []
  } catch {
    return []
  }
}

// The worker gets the path and the harmless query only: no token, no credential of any name,
// and not the relay selector it has no route for.
function forwardedPath(pathname: string, query: URLSearchParams, pfp: boolean): string {
  const kept: string[] = []
  for (const [name, value] of query) {
    if (isSecretParam(name) || (pfp && name === PFP_RELAY_PARAM)) continue
    kept.push(`${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
  }
  return kept.length === 0 ? pathname : `${pathname}?${kept.join('&')}`
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

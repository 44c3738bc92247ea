import type { Agent, ClientRequest, IncomingMessage, ServerResponse } from 'node:http'
import { pipeline } from 'node:stream'
import httpProxy from 'http-proxy'
import type { Logger } from 'pino'
import type { PeerPool } from '../shared/swarm/peer-pool.js'
import { ErrorCode, GatewayError } from '../shared/errors.js'
import { httpService } from '../shared/tunnel/tunnel-wire.js'
import type { ForwardMetrics } from './http-forwarder.js'
import { HOP_BY_HOP_HEADERS } from './hop-by-hop.js'

/** The part of the proxy's TunnelClient (proxy/tunnel-client.ts) HTTP forwarding uses. */
export interface HttpTunnels {
  pick(peers: readonly string[], service: string): string | null
  agent(peer: string, service: string): Agent
}

/** Options of {@link TunnelHttp}. */
export interface TunnelHttpOptions {
  tunnels: HttpTunnels
  pool: Pick<PeerPool, 'snapshot' | 'whenReady'>
  /** How long a request waits for a relay's first worker link (cold start); default 20 s. */
  linkWaitMs?: number
  metrics: ForwardMetrics
  logger: Logger
  /** How long a worker may take to send the answer's head; default 20 s. */
  headTimeoutMs?: number
}

/** One forward through a tunnel. */
export interface TunnelForward {
  peer: string
  relayKey: string
  /** Path and query the worker's HTTP service gets (credentials already stripped). */
  path: string
  route: 'drive' | 'pfp'
}

/**
 * `answered`: the client got an answer (or went away): done. `failed` (with the code): nothing
 * was written to the client, so another worker may be tried.
 */
export type TunnelOutcome = { answered: true } | { answered: false; code: string }

// Request headers a worker gets; never credentials, cookies or forwarding headers.
const FORWARDED = new Set([
  'host',
  'accept',
  'accept-encoding',
  'range',
  'if-range',
  'if-none-match',
  'if-modified-since',
])

interface Pending {
  forward: TunnelForward
  proxyReq: ClientRequest | null
  timer: NodeJS.Timeout
  settled: boolean
  settle(outcome: TunnelOutcome): void
}

/**
 * `/drive` and `/pfp` through a worker's HTTP service tunnel (`http:<relayKey>`), with
 * http-proxy over the tunnel agent: the request and the answer stream through with the
 * tunnel's flow control, so a 100 MB file never sits in the proxy. Status, Range answers and
 * end-to-end headers are the worker's. A worker that fails before the answer's head leaves the
 * client untouched (the caller tries another); one that fails mid-body cuts the client's
 * connection, which is how HTTP tells a client that an answer is incomplete.
 */
export class TunnelHttp {
  readonly #o: TunnelHttpOptions
  readonly #proxy: httpProxy
  readonly #pending = new WeakMap<IncomingMessage, Pending>()

  constructor(options: TunnelHttpOptions) {
    this.#o = options
    this.#proxy = httpProxy.createProxyServer({
      ignorePath: true,
      selfHandleResponse: true,
      xfwd: false,
    })
    this.#proxy.on('proxyReq', (proxyReq, req) => {
      const pending = this.#pending.get(req)
      if (pending !== undefined) pending.proxyReq = proxyReq
      for (const name of proxyReq.getHeaderNames()) {
        if (!FORWARDED.has(name)) proxyReq.removeHeader(name)
      }
    })
    this.#proxy.on('proxyRes', (proxyRes, req, res) => this.#answer(proxyRes, req, res))
    // http-proxy reports a client that reset its connection here instead of the callback.
    this.#proxy.on('econnreset', (_err, req) => this.#pending.get(req)?.settle({ answered: true }))
  }

  /**
   * A peer among `peers` whose worker offers the relay's HTTP service, or null. When none of
   * them has a link yet (a cold relay: never dialled or dialling), it waits for the first one:
   * only a handshake says whether a worker tunnels, and asking it over relay-v2 instead would
   * get a tunnel-mode worker's 404.
   */
  async pick(peers: readonly string[], relayKey: string): Promise<string | null> {
    const { tunnels, pool } = this.#o
    const service = httpService(relayKey)
    const now = tunnels.pick(peers, service)
    if (now !== null) return now
    const cold = (p: string) => {
      const state = pool.snapshot(p).state
      return state === null || state === 'connecting'
    }
    if (peers.length === 0 || !peers.every(cold)) return null
    const ready = await pool.whenReady(peers, this.#o.linkWaitMs ?? 20_000)
    return ready === null ? null : tunnels.pick(peers, service)
  }

  forward(
    req: IncomingMessage,
    res: ServerResponse,
    forward: TunnelForward,
  ): Promise<TunnelOutcome> {
    return new Promise<TunnelOutcome>((resolve) => {
      const pending: Pending = {
        forward,
        proxyReq: null,
        settled: false,
        timer: setTimeout(() => {
          const err = new GatewayError(ErrorCode.REQUEST_TIMEOUT, 'no answer from the worker')
          pending.proxyReq?.destroy(err)
          pending.settle({ answered: false, code: err.code })
        }, this.#o.headTimeoutMs ?? 20_000),
        settle: (outcome) => {
          if (pending.settled) return
          pending.settled = true
          clearTimeout(pending.timer)
          resolve(outcome)
        },
      }
      this.#pending.set(req, pending)
      // The client gave up first: stop the worker's side too (frees the tunnel).
      res.once('close', () => {
        if (!res.writableFinished) pending.proxyReq?.destroy()
        pending.settle({ answered: true })
      })
      let agent: Agent
      try {
        agent = this.#o.tunnels.agent(forward.peer, httpService(forward.relayKey))
        this.#proxy.web(
          req,
          res,
          { target: `http://${forward.route}.tunnel${forward.path}`, agent },
          (err) => this.#failed(err, res, pending),
        )
      } catch (err) {
        this.#failed(err as Error, res, pending)
      }
    })
  }

  #answer(proxyRes: IncomingMessage, req: IncomingMessage, res: ServerResponse): void {
    const pending = this.#pending.get(req)
    if (pending === undefined) return
    clearTimeout(pending.timer)
    const { route, peer } = pending.forward
    const status = proxyRes.statusCode ?? 502
    this.#o.metrics.httpForwards.inc({ route, status: `${Math.floor(status / 100)}xx` })
    const headers: Record<string, string | string[]> = {}
    for (const [name, value] of Object.entries(proxyRes.headers)) {
      if (value !== undefined && !HOP_BY_HOP_HEADERS.has(name)) headers[name] = value
    }
    res.writeHead(status, headers)
    pending.settle({ answered: true })
    pipeline(proxyRes, res, (err) => {
      if (err === undefined || err === null) return
      // Cut mid-body (worker or link gone, or the client left): pipeline destroyed both ends.
      this.#o.metrics.httpForwards.inc({ route, status: 'cut' })
      this.#o.logger.warn({ peer, route, code: codeOf(err) }, 'tunnelled answer cut off')
    })
  }

  #failed(err: Error, res: ServerResponse, pending: Pending): void {
    if (res.headersSent) {
      res.destroy()
      pending.settle({ answered: true })
      return
    }
    pending.settle({ answered: false, code: codeOf(err) })
  }
}

function codeOf(err: unknown): string {
  if (err instanceof GatewayError) return err.code
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : 'TUNNEL_FAILED'
}

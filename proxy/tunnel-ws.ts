import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import httpProxy from 'http-proxy'
import type { Logger } from 'pino'
import { ErrorCode, GatewayError } from '../shared/errors.js'
import { isSecretParam } from '../shared/log/redact-query.js'
import type { TokenState } from '../shared/store/gateway-store.js'
import { isTokenRevoked } from '../shared/store/gateway-store.js'
import type { PeerPool } from '../shared/swarm/peer-pool.js'
import type { TunnelStream } from '../shared/tunnel/tunnel-stream.js'
import { wsService } from '../shared/tunnel/tunnel-wire.js'
import { CloseCode } from './close-codes.js'
import type { ProxyMetrics } from './proxy-metrics.js'
import type { RegistrationCache } from './registration-cache.js'
import type { SessionIdentity } from './session-context.js'
import { TunnelAgent } from './tunnel-agent.js'
import type { TunnelClient } from './tunnel-client.js'
import { TunnelEdge } from './tunnel-edge.js'
import type { TunnelEdgeCut } from './tunnel-edge.js'

/** Options of {@link TunnelWs}. */
export interface TunnelWsOptions {
  pool: Pick<PeerPool, 'select' | 'snapshot' | 'whenReady'>
  tunnels: TunnelClient
  cache: Pick<RegistrationCache, 'on' | 'off'>
  metrics: ProxyMetrics
  logger: Logger
  maxFrameBytes: number
  /** Sustained bytes per second from a client towards its worker. */
  bytesPerSecond: number
  /** How long an upgrade waits for a worker link (cold start). */
  linkWaitMs: number
  /** How long a close waits for the worker's frame to end before the client is cut (ms). */
  closeDeadlineMs?: number
}

// A cut ends the tunnel with a code of its own: the outcome label of tunnel_closed_total.
const CUT_CODES = {
  close_deadline: ErrorCode.TUNNEL_CLOSE_DEADLINE,
  frame_length: ErrorCode.TUNNEL_FRAME_INVALID,
} as const satisfies Record<TunnelEdgeCut, string>

/** What happens to a session the tunnel could not take after all (before the 101). */
export type TunnelRefused = (code: number, reason: string) => void

interface TunnelledSession {
  identity: SessionIdentity
  edge: TunnelEdge
  peer: string
  expiry: NodeJS.Timeout | null
}

/**
 * Tunnelled WebSocket sessions: after the gate admitted a client, its upgrade
 * goes to the relay's own WebSocket service over a raw tunnel (http-proxy with
 * a TunnelAgent) when the chosen worker offers one, so no message is parsed
 * or re-framed on the way. What the gateway still does per session: the token
 * (revocation and expiry close 4403), the sender limits the gate applied,
 * frame size at the edge (1009), and a 1001 close when the worker's link is
 * lost, so the client reconnects and lands on another worker.
 */
export class TunnelWs {
  readonly #o: TunnelWsOptions
  readonly #proxy = httpProxy.createProxyServer({ ws: true, xfwd: false })
  readonly #sessions = new Set<TunnelledSession>()
  /** Workers seen offering a WebSocket tunnel (bounded by the registered workers). */
  readonly #tunnelled = new Set<string>()
  readonly #onRevoked = (relayKey: string, state: TokenState): void => this.#revoke(relayKey, state)

  constructor(opts: TunnelWsOptions) {
    this.#o = opts
    // Errors are handled per call; this keeps a stray one from being unhandled.
    this.#proxy.on('error', (err: Error) =>
      opts.logger.debug({ err: err.message }, 'tunnel proxy error'),
    )
  }

  /** Tunnelled sessions open now. */
  get size(): number {
    return this.#sessions.size
  }

  start(): void {
    this.#o.cache.on('revoked', this.#onRevoked)
  }

  /**
   * Takes an admitted upgrade through a tunnel when the worker picked for it
   * offers the relay's WebSocket service; resolves false (nothing touched) when
   * not, and the caller runs a relay-v2 session instead.
   */
  async forward(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    identity: SessionIdentity,
    refused: TunnelRefused,
  ): Promise<boolean> {
    const { pool, tunnels, linkWaitMs } = this.#o
    const { registration } = identity
    const service = wsService(registration.relayKey)
    let peer = pool.select(registration.peers)
    if (peer === null || pool.snapshot(peer).state !== 'ready') {
      // Only wait here for workers known to tunnel: a relay-v2 session waits for its link
      // after the 101, and waiting twice would double a cold start.
      if (!registration.peers.some((p) => this.#tunnelled.has(p))) return false
      peer = await pool.whenReady(registration.peers, linkWaitMs)
    }
    if (peer === null || socket.destroyed || !tunnels.offers(peer, service)) return false
    this.#tunnelled.add(peer)

    let tunnel: TunnelStream | null = null
    const agent = new TunnelAgent(() => (tunnel = tunnels.open(peer, service)), {
      keepAlive: false,
    })
    const edge = new TunnelEdge(
      socket,
      {
        maxFrameBytes: this.#o.maxFrameBytes,
        bytesPerSecond: this.#o.bytesPerSecond,
        onLimit: (limit) => this.#o.metrics.limitHit(limit),
        onCut: (cut) =>
          this.#o.logger.warn(
            { peer, cut, closeCode: edge.closeCode },
            'tunnelled session cut: the worker left no frame boundary for the close',
          ),
        ...(this.#o.closeDeadlineMs === undefined
          ? {}
          : { closeDeadlineMs: this.#o.closeDeadlineMs }),
      },
      head,
    )
    const session: TunnelledSession = { identity, edge, peer, expiry: null }
    this.#open(session)
    edge.once('close', () => {
      const cut = edge.cut === null ? undefined : CUT_CODES[edge.cut]
      ;(tunnel as TunnelStream | null)?.destroy(
        cut === undefined ? undefined : new GatewayError(cut, `client cut: ${edge.cut}`),
      )
      this.#closed(session)
    })
    req.url = forwardedUrl(req.url ?? '/')
    delete req.headers.authorization
    this.#proxy.ws(
      req,
      edge,
      Buffer.alloc(0),
      {
        target: 'http://relay',
        agent,
        headers: { 'x-auth-token': identity.workerToken, 'x-forwarded-for': identity.ip },
      },
      (err: Error) => this.#failed(session, err, refused),
    )
    return true
  }

  /** Live tunnelled sessions, each closable with a code (for a disabled account's sessions). */
  list(): Array<{ identity: SessionIdentity; close(code: number, reason: string): void }> {
    return [...this.#sessions].map((s) => ({
      identity: s.identity,
      close: (code: number, reason: string) => s.edge.closeWith(code, reason),
    }))
  }

  /** Closes every tunnelled session with `code` (shutdown: 1001). */
  closeAll(code: number, reason: string): void {
    for (const s of [...this.#sessions]) s.edge.closeWith(code, reason)
  }

  /** Unsubscribes and destroys what is left. Idempotent. */
  close(): void {
    this.#o.cache.off('revoked', this.#onRevoked)
    for (const s of [...this.#sessions]) s.edge.destroy()
    this.#proxy.close()
  }

  #open(session: TunnelledSession): void {
    this.#sessions.add(session)
    this.#o.metrics.sessions.inc()
    this.#o.metrics.sessionsOpened.inc()
    const expiresAt = session.identity.tokenPayload.expiresAt
    if (typeof expiresAt === 'number') this.#expireAt(session, expiresAt)
  }

  // Timers may fire a little early by the wall clock: re-arm for the rest.
  #expireAt(session: TunnelledSession, expiresAt: number): void {
    const delay = expiresAt - Date.now()
    if (delay <= 0) return session.edge.closeWith(CloseCode.FORBIDDEN, 'token expired')
    session.expiry = setTimeout(() => this.#expireAt(session, expiresAt), delay)
    session.expiry.unref()
  }

  #closed(session: TunnelledSession): void {
    if (!this.#sessions.delete(session)) return
    if (session.expiry !== null) clearTimeout(session.expiry)
    this.#o.metrics.sessions.dec()
    const code = session.edge.closeCode
    this.#o.metrics.sessionsClosed.inc({ code: code === null ? 'none' : String(code) })
  }

  #failed(session: TunnelledSession, err: Error, refused: TunnelRefused): void {
    const code = (err as Partial<GatewayError>).code
    this.#o.logger.info(
      { peer: session.peer, code: code ?? err.message },
      'tunnelled session failed',
    )
    if (session.edge.upgraded) {
      return session.edge.closeWith(CloseCode.GOING_AWAY, 'worker lost')
    }
    // No 101 yet: the client gets the refusal a relay-v2 session would give.
    session.edge.release()
    this.#closed(session)
    refused(
      CloseCode.NO_PEER,
      code === ErrorCode.TUNNEL_CONNECT_FAILED ? 'relay unavailable' : 'worker unavailable',
    )
  }

  #revoke(relayKey: string, state: TokenState): void {
    for (const s of this.#sessions) {
      if (s.identity.registration.relayKey !== relayKey) continue
      if (!isTokenRevoked(state, s.identity.tokenPayload)) continue
      this.#o.metrics.tokenRejected('revoked')
      s.edge.closeWith(CloseCode.FORBIDDEN, 'token revoked')
    }
  }
}

// The relay gets `/` and the harmless query: never the token or any credential.
function forwardedUrl(url: string): string {
  const q = url.indexOf('?')
  if (q === -1) return '/'
  const kept: string[] = []
  for (const [name, value] of new URLSearchParams(url.slice(q + 1))) {
    if (!isSecretParam(name)) kept.push(`${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
  }
  return kept.length === 0 ? '/' : `/?${kept.join('&')}`
}

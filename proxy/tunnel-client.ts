import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { ErrorCode, GatewayError } from '../shared/errors.js'
import { Capability } from '../shared/protocol/wire.js'
import type { PeerConnection } from '../shared/swarm/peer-connection.js'
import type { PeerPool } from '../shared/swarm/peer-pool.js'
import { selectPeer } from '../shared/swarm/select-peer.js'
import { TunnelStream } from '../shared/tunnel/tunnel-stream.js'
import { TunnelAgent } from './tunnel-agent.js'

/** What the tunnel client needs of the pool. */
export type TunnelPool = Pick<
  PeerPool,
  'connections' | 'lease' | 'snapshot' | 'on' | 'off' | 'peer'
>

/** Options of {@link TunnelClient}. */
export interface TunnelClientOptions {
  pool: TunnelPool
  logger: Logger
}

/** How one tunnel ended: bytes and the error code, null when it closed cleanly. */
export interface TunnelOutcome {
  bytesIn: number
  bytesOut: number
  code: string | null
}

/**
 * The proxy's side of the `tunnel` extension: raw byte streams to a worker's
 * named services over the pooled link (docs/protocol.md "Extension: tunnel"),
 * and http.Agents whose sockets are those streams. Each open tunnel holds a
 * lease on its worker, so the link is kept and counted in selection. No retry
 * here: when a link is lost its tunnels fail with TUNNEL_LINK_LOST and the
 * caller picks another worker.
 *
 * Lifecycle: inert constructor, {@link start}, idempotent {@link close}.
 * Events: `open` (peer, service), `close` (peer, service, outcome).
 */
export class TunnelClient extends EventEmitter {
  readonly #pool: TunnelPool
  readonly #log: Logger
  readonly #open = new Set<TunnelStream>()
  readonly #agents = new Map<string, TunnelAgent>()
  readonly #onRemoved = (conn: PeerConnection): void => this.#dropAgents(conn.key)
  #closed = false

  constructor(opts: TunnelClientOptions) {
    super()
    this.#pool = opts.pool
    this.#log = opts.logger
  }

  /** Tunnels currently open. */
  get size(): number {
    return this.#open.size
  }

  start(): void {
    this.#pool.on('peer-removed', this.#onRemoved)
  }

  /** True when the link to `peer` is open and its worker offers `service`. */
  offers(peer: string, service: string): boolean {
    const conn = this.#connection(peer)
    if (conn === null || conn.link === null || !conn.supports(Capability.TUNNEL)) return false
    const names = conn.channel?.remoteHandshake?.tunnels
    return Array.isArray(names) && names.includes(service)
  }

  /** True when the worker's link is open and it speaks the extension at all. */
  tunnels(peer: string): boolean {
    const conn = this.#connection(peer)
    return conn !== null && conn.link !== null && conn.supports(Capability.TUNNEL)
  }

  /** The best ready worker among `peers` that offers `service` (pool selection), or null. */
  pick(peers: readonly string[], service: string): string | null {
    const offering = peers.filter((p) => this.#pool.snapshot(p).state === 'ready')
    return selectPeer(
      offering.filter((p) => this.offers(p, service)).map((p) => this.#pool.snapshot(p)),
    )
  }

  /** Opens a tunnel to `service` on `peer`; throws TUNNEL_UNSUPPORTED when not offered. */
  open(peer: string, service: string): TunnelStream {
    if (this.#closed) throw new GatewayError(ErrorCode.POOL_CLOSED, 'tunnel client is closed')
    const conn = this.#connection(peer)
    if (conn === null || !this.offers(peer, service)) {
      throw new GatewayError(ErrorCode.TUNNEL_UNSUPPORTED, 'worker offers no such tunnel', {
        details: { peer },
      })
    }
    const tunnel = new TunnelStream(conn.link, { service })
    const lease = this.#pool.lease(peer)
    this.#open.add(tunnel)
    let code: string | null = null
    tunnel.on('error', (err: Error) => {
      code = (err as Partial<GatewayError>).code ?? ErrorCode.TUNNEL_RESET
      this.#log.debug({ peer, service, code }, 'tunnel error')
    })
    tunnel.once('close', () => {
      this.#open.delete(tunnel)
      lease.release()
      this.emit('close', peer, service, { ...tunnel.stats, code } satisfies TunnelOutcome)
    })
    this.emit('open', peer, service)
    return tunnel
  }

  /**
   * An http.Agent for `service` on `peer` whose sockets are tunnels (kept alive
   * between requests), the same object for the same pair until the peer leaves
   * the pool.
   */
  agent(peer: string, service: string): TunnelAgent {
    const id = `${peer}\n${service}`
    let agent = this.#agents.get(id)
    if (agent === undefined) {
      agent = new TunnelAgent(() => this.open(peer, service))
      this.#agents.set(id, agent)
    }
    return agent
  }

  /** Destroys every open tunnel and agent and unsubscribes. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#pool.off('peer-removed', this.#onRemoved)
    for (const agent of this.#agents.values()) agent.destroy()
    this.#agents.clear()
    const closing = [...this.#open].map(
      (t) => new Promise<void>((resolve) => (t.destroyed ? resolve() : t.once('close', resolve))),
    )
    for (const tunnel of this.#open) tunnel.destroy()
    await Promise.all(closing)
    this.removeAllListeners()
  }

  #connection(peer: string): PeerConnection | null {
    // Never dial from here: a peer the pool does not hold has no tunnel to offer.
    return this.#pool.snapshot(peer).state === null ? null : this.#pool.peer(peer)
  }

  #dropAgents(peer: string): void {
    for (const [id, agent] of this.#agents) {
      if (!id.startsWith(peer + '\n')) continue
      agent.destroy()
      this.#agents.delete(id)
    }
  }
}

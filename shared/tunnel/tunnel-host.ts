import { connect } from 'node:net'
import type { Socket } from 'node:net'
import Protomux from 'protomux'
import type { Logger } from 'pino'
import { ErrorCode } from '../errors.js'
import { TunnelStream } from './tunnel-stream.js'
import type { TunnelHandshake } from './tunnel-wire.js'
import { TUNNEL_PROTOCOL } from './tunnel-wire.js'

/** Where a named service listens on the worker's machine. */
export interface TunnelTarget {
  port: number
  /** Default 127.0.0.1. */
  host?: string
}

/** Options of {@link TunnelHost}. */
export interface TunnelHostOptions {
  /** Service name (e.g. `wsService(relayKey)`) -> local TCP service. */
  services: Readonly<Record<string, TunnelTarget>>
  logger: Logger
}

/**
 * The worker's end of the tunnel extension: on every gateway link it serves,
 * a tunnel the gateway opens for a named service is connected to that local
 * TCP service, bytes both ways, backpressure both ways (the TCP socket pauses
 * while the tunnel has no credit, the tunnel withholds credit while the socket
 * is backed up). Unknown names are refused; a local service that refuses the
 * connection is reported as TUNNEL_CONNECT_FAILED.
 */
export class TunnelHost {
  readonly #services: ReadonlyMap<string, TunnelTarget>
  readonly #log: Logger
  readonly #open = new Set<TunnelStream>()
  readonly #muxes = new Set<Protomux>()
  #closed = false

  constructor(opts: TunnelHostOptions) {
    this.#services = new Map(Object.entries(opts.services))
    this.#log = opts.logger
  }

  /** Names of the services offered, for the relay-v2 handshake. */
  get serviceNames(): string[] {
    return [...this.#services.keys()]
  }

  /** Tunnels currently open. */
  get size(): number {
    return this.#open.size
  }

  /** Accepts tunnels on one link (a NoiseSecretStream or its Protomux). */
  serve(streamOrMux: unknown): void {
    if (this.#closed) return
    const mux = Protomux.from(streamOrMux)
    if (this.#muxes.has(mux)) return
    this.#muxes.add(mux)
    mux.stream.once('close', () => this.#muxes.delete(mux))
    mux.pair({ protocol: TUNNEL_PROTOCOL }, () => this.#accept(mux))
  }

  /** Stops accepting and destroys every open tunnel (and its TCP socket). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const mux of this.#muxes) mux.unpair({ protocol: TUNNEL_PROTOCOL })
    this.#muxes.clear()
    const closing = [...this.#open].map(
      (t) => new Promise<void>((resolve) => (t.destroyed ? resolve() : t.once('close', resolve))),
    )
    for (const tunnel of this.#open) tunnel.destroy()
    await Promise.all(closing)
  }

  #accept(mux: Protomux): void {
    if (this.#closed) return
    let tunnel: TunnelStream
    try {
      tunnel = new TunnelStream(mux, { onHandshake: (h, t) => this.#connect(h, t) })
    } catch {
      return // the link closed under us
    }
    this.#open.add(tunnel)
    tunnel.once('close', () => this.#open.delete(tunnel))
  }

  #connect(handshake: TunnelHandshake, tunnel: TunnelStream): void {
    const name = typeof handshake.service === 'string' ? handshake.service : ''
    const target = this.#services.get(name)
    if (target === undefined) {
      this.#log.info({ service: name.slice(0, 80) }, 'tunnel refused: unknown service')
      return tunnel.refuse(ErrorCode.TUNNEL_REFUSED, 'unknown service')
    }
    // The tunnel's listeners come first: from here on either end's failure takes down the other.
    let socket: Socket | null = null
    tunnel.on('error', () => socket?.destroy())
    tunnel.once('close', () => socket?.destroy())
    if (tunnel.destroyed) return
    socket = connect({
      port: target.port,
      host: target.host ?? '127.0.0.1',
      allowHalfOpen: true,
      noDelay: true,
    })
    let connected = false
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.#log.debug({ service: name, err: err.message }, 'tunnel service socket error')
      tunnel.destroy(
        Object.assign(new Error(err.message), {
          code: connected ? ErrorCode.TUNNEL_RESET : ErrorCode.TUNNEL_CONNECT_FAILED,
        }),
      )
    })
    socket.once('connect', () => (connected = true))
    // Half-closes travel both ways: a FIN from the service ends the tunnel's writable side.
    socket.pipe(tunnel)
    tunnel.pipe(socket)
    socket.once('close', () => {
      // Bytes still waiting for credit must reach the gateway before the channel closes.
      if (tunnel.writableFinished || tunnel.destroyed || !socket?.readableEnded) tunnel.destroy()
      else tunnel.once('finish', () => tunnel.destroy())
    })
  }
}

import type { NoiseSecretStream } from 'hyperdht'
import type { Duplex } from 'node:stream'
import type Hyperswarm from 'hyperswarm'
import type { PeerDiscovery } from 'hyperswarm'
import type { Logger } from 'pino'
import { isHandoverFrame } from '../protocol/handover-frames.js'
import { RelayChannel } from '../protocol/relay-channel.js'
import { Router } from '../protocol/router.js'
import type { RouteRequest, RouteResponse } from '../protocol/router.js'
import { Capability, DISCOVERY_TOPIC, LEGACY_CAPABILITIES } from '../protocol/wire.js'
import type { JsonObject } from '../protocol/wire.js'
import { TunnelHost } from '../tunnel/tunnel-host.js'
import type { TunnelTarget } from '../tunnel/tunnel-host.js'
import { GatewayLink } from './gateway-link.js'
import { LinkRetirement } from './link-retirement.js'
import type { GatewayTargets } from './gateway-link.js'
import type { FileResponse, HostedRelay } from './relay-backend.js'

/** Options of {@link RelayHost}. */
export interface RelayHostOptions {
  swarm: Hyperswarm
  logger: Logger
  relays?: HostedRelay[]
  /** Offer the push extension to gateways that advertise it. Default true. */
  push?: boolean
  /** Offer the text-body extension (UTF-8 bodies as JSON strings). Default true. */
  textBody?: boolean
  /** Offer the handover extension (a link the gateway replaces is drained). Default true. */
  handover?: boolean
  /** Checks a client token for a relay (header `x-auth-token`); default accepts all. */
  verifyToken?: (token: string | undefined, relayKey: string) => boolean
  /** Queued output lines kept per connection for polling; oldest dropped past it. */
  maxQueue?: number
  /** Forget a connectionKey not used (posted, polled or pushed to) for this long. */
  connectionTtlMs?: number
  /**
   * Local TCP services gateways may open raw tunnels to (the `tunnel` extension), by name:
   * `wsService(relayKey)` for a relay's WebSocket port, `httpService(relayKey)` for its HTTP
   * file server. None: the extension is not offered.
   */
  tunnels?: Readonly<Record<string, TunnelTarget>>
  /** Serves `/pfp/:file` and `/pfp/:owner/:file`. */
  avatar?: (
    owner: string | null,
    file: string,
  ) => Promise<FileResponse | null> | FileResponse | null
}

interface ClientState {
  relay: HostedRelay
  /** The gateway channel that last posted for this key: where pushes go. */
  channel: RelayChannel | null
  /** That channel's gateway node (remote key, hex): a new link from it takes over the pushes. */
  gateway: string | null
  queue: string[]
  lastSeen: number
  /** Settles when this key's previous message is handled: keeps arrival order (`pipeline`). */
  tail: Promise<unknown>
}

const JSON_HEADERS = { 'content-type': 'application/json' }
const CONNECTION_KEY = /^[0-9a-f]{32}$/

/**
 * A worker's end of the tunnel: announces on the discovery topic as a server
 * and serves the relay-v2 routes of docs/protocol.md section 3 on every connection,
 * with the push extension for gateways that ask for it.
 */
export class RelayHost {
  readonly #swarm: Hyperswarm
  readonly #log: Logger
  readonly #opts: RelayHostOptions
  readonly #relays = new Map<string, HostedRelay>()
  readonly #unsubscribe = new Map<HostedRelay, () => void>()
  readonly #clients = new Map<string, ClientState>()
  readonly #channels = new Set<RelayChannel>()
  readonly #gatewayOf = new WeakMap<RelayChannel, string | null>()
  readonly #router: Router<unknown, RelayChannel>
  readonly #capabilities: string[]
  readonly #onConnection: (stream: NoiseSecretStream) => void
  readonly #tunnels: TunnelHost | null = null
  #discovery: PeerDiscovery | null = null
  #sweep: NodeJS.Timeout | null = null
  #gatewayLink: GatewayLink | null = null
  readonly #retirement = new LinkRetirement()
  #closed = false

  constructor(opts: RelayHostOptions) {
    this.#swarm = opts.swarm
    this.#log = opts.logger
    this.#opts = opts
    this.#capabilities = [...LEGACY_CAPABILITIES]
    if (opts.push !== false) this.#capabilities.push(Capability.PUSH)
    if (opts.textBody !== false) this.#capabilities.push(Capability.TEXT_BODY)
    // Messages of one connectionKey are handled in arrival order (see #post).
    this.#capabilities.push(Capability.PIPELINE)
    if (opts.handover !== false) this.#capabilities.push(Capability.HANDOVER)
    if (opts.relays?.some((r) => r.info !== undefined))
      this.#capabilities.push(Capability.RELAY_INFO)
    if (opts.tunnels !== undefined && Object.keys(opts.tunnels).length > 0) {
      this.#tunnels = new TunnelHost({
        services: opts.tunnels,
        logger: opts.logger.child({ component: 'tunnel-host' }),
      })
      this.#capabilities.push(Capability.TUNNEL)
    }
    for (const relay of opts.relays ?? []) this.addRelay(relay)
    this.#router = new Router<unknown, RelayChannel>()
      .post('/identify-gateway', () => ({
        statusCode: 200,
        body: { status: 'identified', relayPublicKey: this.publicKey },
      }))
      .post('/post/relay/:identifier', (req, _ctx, channel) => this.#post(req, channel))
      .get('/get/relay/:identifier/:connectionKey', (req) => this.#poll(req))
      .get('/drive/:identifier/:file', (req) => this.#drive(req))
      .get('/relay-info/:identifier', (req) => {
        const info = this.#relays.get(req.params.identifier as string)?.info?.()
        return info === undefined
          ? { statusCode: 404, body: { error: 'no relay info' } }
          : { statusCode: 200, body: info }
      })
      .get('/pfp/:file', (req) => this.#avatar(null, req.params.file as string))
      .get('/pfp/:owner/:file', (req) =>
        this.#avatar(req.params.owner as string, req.params.file as string),
      )
      .get('/health', () => ({
        statusCode: 200,
        body: { status: 'ok', relays: this.#relays.size, connections: this.#clients.size },
      }))
    this.#onConnection = (stream) => this.serve(stream)
  }

  /** This worker's swarm public key, hex: what registrations list in `peers`. */
  get publicKey(): string {
    return this.#swarm.keyPair.publicKey.toString('hex')
  }

  /** Gateway channels currently open. */
  get channelCount(): number {
    return this.#channels.size
  }

  /** Client connections (gateway connectionKeys) this host holds state for. */
  get connectionCount(): number {
    return this.#clients.size
  }

  /** Raw tunnels currently open (the `tunnel` extension). */
  get tunnelCount(): number {
    return this.#tunnels?.size ?? 0
  }

  /** Announces on the discovery topic and waits until the announcement is flushed. */
  async start(): Promise<void> {
    this.#swarm.on('connection', this.#onConnection)
    this.#discovery = this.#swarm.join(DISCOVERY_TOPIC, { server: true, client: false })
    await this.#discovery.flushed()
    const ttl = this.#opts.connectionTtlMs ?? 10 * 60_000
    this.#sweep = setInterval(() => this.#expire(ttl), Math.max(1_000, ttl / 4))
    this.#sweep.unref()
  }

  addRelay(relay: HostedRelay): void {
    this.#relays.set(relay.relayKey, relay)
    if (relay.publicIdentifier !== undefined) this.#relays.set(relay.publicIdentifier, relay)
    if (!this.#unsubscribe.has(relay)) {
      this.#unsubscribe.set(
        relay,
        relay.backend.onOutput((key, line) => this.#output(key, line)),
      )
    }
  }

  /**
   * Dials out to the gateway nodes (keys from the registrar's answer or GET /api/gateway) and
   * keeps those links up, so this worker is reachable whatever its NAT; call again with new
   * targets. The links are served like any inbound connection.
   */
  dialGateways(targets: GatewayTargets): GatewayLink {
    this.#gatewayLink ??= new GatewayLink({
      swarm: this.#swarm,
      logger: this.#log.child({ component: 'gateway-link' }),
      onStream: (stream) => this.serve(stream),
    })
    if (!this.#closed) this.#gatewayLink.update(targets)
    return this.#gatewayLink
  }

  /** Stops announcing, closes every gateway channel and connection. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#gatewayLink?.close()
    if (this.#sweep !== null) clearInterval(this.#sweep)
    this.#swarm.off('connection', this.#onConnection)
    for (const unsubscribe of this.#unsubscribe.values()) unsubscribe()
    this.#unsubscribe.clear()
    await this.#tunnels?.close()
    for (const channel of this.#channels) await channel.close()
    this.#channels.clear()
    this.#clients.clear()
    if (this.#discovery !== null) await this.#discovery.destroy()
  }

  /** Serves relay-v2 on one connection; every swarm connection comes through here. */
  serve(stream: Duplex): RelayChannel {
    stream.on('error', (err: Error) =>
      this.#log.debug({ err: err.message }, 'gateway stream error'),
    )
    const channel = new RelayChannel(stream, {
      isServer: true,
      capabilities: this.#capabilities,
      ...(this.#tunnels === null
        ? {}
        : { handshakeExtra: { tunnels: this.#tunnels.serviceNames } }),
      router: this.#router,
      healthServices: () => ({ relay: 'active', protocol: 'connected' }),
    })
    this.#channels.add(channel)
    this.#tunnels?.serve(stream)
    channel.on('wsframe', (frame: JsonObject) => this.#onWsFrame(channel, frame))
    channel.on('protocol-error', (err: Error) =>
      this.#log.warn({ err: err.message }, 'undecodable message'),
    )
    channel.on('handler-error', (err: Error) => this.#log.error({ err }, 'route handler failed'))
    const gateway = remoteKey(stream)
    this.#gatewayOf.set(channel, gateway)
    channel.on('close', () => {
      this.#channels.delete(channel)
      for (const state of this.#clients.values()) {
        if (state.channel === channel) state.channel = null
      }
      this.#rehome(gateway)
    })
    channel.on('open', () => this.#rehome(gateway))
    return channel
  }

  // A gateway may replace its link to us (its own dial and ours both arrive, or a redial):
  // pushes of sessions whose channel closed go to its other open link, queued lines first,
  // since a push gateway never polls for them.
  #rehome(gateway: string | null): void {
    if (gateway === null) return
    let target: RelayChannel | null = null
    for (const c of this.#channels) {
      if (this.#gatewayOf.get(c) !== gateway || c.closed || !c.supports(Capability.PUSH)) continue
      if (this.#retirement.retired(c)) continue
      target = c
    }
    if (target === null) return
    for (const [key, state] of this.#clients) {
      if (state.gateway !== gateway || state.channel !== null) continue
      state.channel = target
      for (const line of state.queue.splice(0))
        target.sendWsFrame({ connectionKey: key, data: line })
    }
  }

  async #post(req: RouteRequest, channel: RelayChannel): Promise<RouteResponse> {
    const relay = this.#relays.get(req.params.identifier as string)
    if (relay === undefined) return { statusCode: 404, body: { error: 'relay not found' } }
    if (this.#opts.verifyToken?.(req.headers['x-auth-token'], relay.relayKey) === false) {
      return { statusCode: 403, body: { error: 'invalid token' } }
    }
    let parsed: { message?: unknown; connectionKey?: unknown }
    try {
      parsed = JSON.parse(String(req.body ?? '')) as typeof parsed
    } catch {
      return lines(['["NOTICE","error: request body is not JSON"]'])
    }
    const key = parsed.connectionKey
    if (typeof key !== 'string' || !CONNECTION_KEY.test(key)) {
      return lines(['["NOTICE","error: missing or malformed connectionKey"]'])
    }
    const message = decodeMessage(parsed.message)
    if (message === undefined) return lines(['["NOTICE","error: message is not valid JSON"]'])
    const state = this.#client(key, relay)
    state.channel = channel
    state.gateway = this.#gatewayOf.get(channel) ?? null
    const handle = () => relay.backend.handleMessage(key, message)
    const handled = state.tail.then(handle, handle)
    state.tail = handled.catch(() => undefined)
    return lines(await handled)
  }

  #poll(req: RouteRequest): RouteResponse {
    if (!this.#relays.has(req.params.identifier as string)) {
      return { statusCode: 404, body: { error: 'relay not found' } }
    }
    const state = this.#clients.get(req.params.connectionKey as string)
    if (state === undefined || state.queue.length === 0)
      return { statusCode: 200, headers: JSON_HEADERS, body: '[]' }
    state.lastSeen = Date.now()
    const body = '[' + state.queue.join(',') + ']'
    state.queue = []
    return { statusCode: 200, headers: JSON_HEADERS, body }
  }

  async #drive(req: RouteRequest): Promise<RouteResponse> {
    const relay = this.#relays.get(req.params.identifier as string)
    const file = relay?.file === undefined ? null : await relay.file(req.params.file as string)
    return file ?? { statusCode: 404, body: { error: 'file not found' } }
  }

  async #avatar(owner: string | null, file: string): Promise<RouteResponse> {
    const res = (await this.#opts.avatar?.(owner, file)) ?? null
    return res ?? { statusCode: 404, body: { error: 'file not found' } }
  }

  #onWsFrame(channel: RelayChannel, frame: JsonObject): void {
    if (isHandoverFrame(frame)) {
      // Only a gateway that negotiated `handover` may retire a link.
      if (channel.supports(Capability.HANDOVER)) this.#handOver(channel)
      return
    }
    // Only gateways that negotiated push may use the close frame.
    if (!channel.supports(Capability.PUSH)) return
    const key = frame.connectionKey
    if (frame.type !== 'close' || typeof key !== 'string') return
    const state = this.#clients.get(key)
    if (state === undefined) return
    this.#clients.delete(key)
    state.relay.backend.closeConnection(key)
  }

  // The gateway replaces this link (`handover`): once the posts it sent here are answered (on
  // it), every session's pushes move to its other link, and the acknowledgement is the last
  // thing this one carries.
  #handOver(channel: RelayChannel): void {
    const states = [...this.#clients.values()].filter((s) => s.channel === channel)
    this.#retirement.retire(channel, states, () => {
      for (const state of this.#clients.values())
        if (state.channel === channel) state.channel = null
      this.#rehome(this.#gatewayOf.get(channel) ?? null)
    })
  }

  #output(key: string, line: string): void {
    const state = this.#clients.get(key)
    if (state === undefined) return
    state.lastSeen = Date.now()
    const channel = state.channel
    if (channel !== null && !channel.closed && channel.supports(Capability.PUSH)) {
      channel.sendWsFrame({ connectionKey: key, data: line })
      return
    }
    const max = this.#opts.maxQueue ?? 1_000
    if (state.queue.length >= max) state.queue.shift()
    state.queue.push(line)
  }

  #client(key: string, relay: HostedRelay): ClientState {
    let state = this.#clients.get(key)
    if (state === undefined) {
      state = {
        relay,
        channel: null,
        gateway: null,
        queue: [],
        lastSeen: Date.now(),
        tail: Promise.resolve(),
      }
      this.#clients.set(key, state)
    }
    state.lastSeen = Date.now()
    return state
  }

  #expire(ttlMs: number): void {
    const cutoff = Date.now() - ttlMs
    for (const [key, state] of this.#clients) {
      if (state.lastSeen >= cutoff) continue
      this.#clients.delete(key)
      state.relay.backend.closeConnection(key)
    }
  }
}

function remoteKey(stream: Duplex): string | null {
  const key = (stream as { remotePublicKey?: unknown }).remotePublicKey
  return Buffer.isBuffer(key) ? key.toString('hex') : null
}

function lines(out: string[]): RouteResponse {
  return { statusCode: 200, headers: JSON_HEADERS, body: out.join('\n') }
}

// Every worker version accepts the parsed array; newer ones also take the raw
// text or a serialized Buffer. Undefined means undecodable.
function decodeMessage(message: unknown): unknown {
  if (Array.isArray(message)) return message
  try {
    if (typeof message === 'string') return JSON.parse(message)
    const data = (message as { type?: unknown; data?: unknown } | null)?.data
    if (Array.isArray(data)) return JSON.parse(Buffer.from(data as number[]).toString('utf8'))
  } catch {
    return undefined
  }
  return undefined
}

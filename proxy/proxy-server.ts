import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { ErrorCode, wireCode } from '../shared/errors.js'
import { notReadyBody, readyBody } from '../shared/health/ready-body.js'
import { SERVER_TIMEOUTS } from '../shared/process/server-timeouts.js'
import type { GatewayStore } from '../shared/store/gateway-store.js'
import { RedisStore } from '../shared/store/redis-store.js'
import type { PeerPool } from '../shared/swarm/peer-pool.js'
import { CloseCode } from './close-codes.js'
import { HttpForwarder, send } from './http-forwarder.js'
import { OwnerGuard } from './owner-guard.js'
import type { SecretOpener } from './owner-secrets.js'
import { ProxyMetrics } from './proxy-metrics.js'
import { RegistrationCache, resolveFirst } from './registration-cache.js'
import { relayInfo } from './relay-info.js'
import { relayPage } from './relay-page.js'
import type { SessionContext } from './session-context.js'
import { relayTarget } from './relay-target.js'
import { SenderLimits } from './sender-limits.js'
import type { SenderLimitsConfig } from './sender-limits.js'
import { SessionGate } from './session-gate.js'
import { SessionRegistry } from './session-registry.js'
import { sessionTuning } from './session-tuning.js'
import type { SessionTuningConfig } from './session-tuning.js'
import { GatewayHealthView, statusPage } from './status-page.js'
import { wsService } from '../shared/tunnel/tunnel-wire.js'
import { TunnelClient } from './tunnel-client.js'
import { TunnelHttp } from './tunnel-http.js'
import { TunnelMetrics } from './tunnel-metrics.js'
import { TunnelWs } from './tunnel-ws.js'
import { UpgradeHandler } from './upgrade-handler.js'

/** Client-facing limits, each with a clear NOTICE or close code and a metric. */
export interface ProxyLimits extends SenderLimitsConfig, SessionTuningConfig {
  maxFrameBytes: number
  maxQueuedMessages: number
  maxBufferedBytes: number
  /** Sustained client messages per second, per session. */
  messagesPerSecond: number
  /** Client messages a session may send at once above the sustained rate. */
  messageBurst: number
  /** Bytes per second a tunnelled session may send to its worker (absent: unlimited). */
  tunnelBytesPerSecond?: number
  /** Open subscriptions per session (strfry's default is 200). */
  maxSubscriptions: number
  /** How long a session's messages wait for a worker link (cold start, failover), in ms. */
  linkWaitMs: number
  pollIntervalMs: number
  pingIntervalMs: number
  shutdownGraceMs: number
}

/** Options of {@link ProxyServer}. */
export interface ProxyServerOptions {
  host: string
  port: number
  /**
   * Shared secret the tokens of unowned relays are signed with; empty: such relays are refused
   * (multi-tenant), or, without `workerSecrets` too, the gateway is not configured (1011).
   */
  secret: string
  /** Opens worker accounts' sealed signing secrets; absent or null: worker accounts are off. */
  workerSecrets?: SecretOpener | null
  publicUrl: string
  trustedProxies: readonly string[]
  limits: ProxyLimits
  store: GatewayStore
  pool: PeerPool
  logger: Logger
  registry: Registry
  version?: string
  /** Extra fields for the /ready body (the swarm node's reachability). */
  readyDetails?: () => Record<string, unknown>
}

/**
 * The proxy process's HTTP and WebSocket front: relay sessions on upgrade,
 * worker file forwarding, relay information, health, readiness and metrics.
 * It borrows the store and pool; whoever made them closes them after it.
 */
export class ProxyServer {
  readonly metrics: ProxyMetrics
  readonly sessions: SessionRegistry
  /** Raw tunnels to workers' own services (the `tunnel` extension). */
  readonly tunnels: TunnelClient
  readonly #tunnelWs: TunnelWs
  readonly #o: ProxyServerOptions
  readonly #log: Logger
  readonly #server: Server
  readonly #upgrades: UpgradeHandler
  readonly #cache: RegistrationCache
  readonly #owners: OwnerGuard
  readonly #limits: SenderLimits
  readonly #forwarder: HttpForwarder
  readonly #health: GatewayHealthView
  #starting: Promise<AddressInfo> | null = null
  #closing: Promise<void> | null = null

  constructor(opts: ProxyServerOptions) {
    this.#o = opts
    this.#log = opts.logger
    const { pool, store, logger, limits } = opts
    this.metrics = new ProxyMetrics(opts.registry)
    this.#cache = new RegistrationCache({ store, logger })
    this.sessions = new SessionRegistry({
      pool,
      store,
      logger,
      cache: this.#cache,
      metrics: this.metrics,
      pingIntervalMs: limits.pingIntervalMs,
    })
    this.#limits = new SenderLimits({
      ...limits,
      redis: store instanceof RedisStore ? store.shared : null,
      logger,
      registry: opts.registry,
    })
    this.#owners = new OwnerGuard({
      store,
      opener: opts.workerSecrets ?? null,
      cache: this.#cache,
      pool,
      // Tunnelled sessions end with the account too (the tunnel is built below; list is lazy).
      sessions: { list: () => [...this.sessions.list(), ...this.#tunnelWs.list()] },
      metrics: this.metrics,
      logger,
    })
    const gate = new SessionGate({
      secret: opts.secret,
      owners: this.#owners.secrets,
      cache: this.#cache,
      limits: this.#limits,
      metrics: this.metrics,
      logger,
      trustedProxies: new Set(opts.trustedProxies),
    })
    this.#health = new GatewayHealthView(store, pool)
    this.tunnels = new TunnelClient({ pool, logger })
    new TunnelMetrics(opts.registry, pool, this.tunnels)
    this.#tunnelWs = new TunnelWs({
      pool,
      tunnels: this.tunnels,
      cache: this.#cache,
      metrics: this.metrics,
      logger,
      maxFrameBytes: limits.maxFrameBytes,
      bytesPerSecond: limits.tunnelBytesPerSecond ?? Infinity,
      linkWaitMs: limits.linkWaitMs,
    })
    this.#forwarder = new HttpForwarder({
      pool,
      cache: this.#cache,
      metrics: this.metrics,
      logger,
      tunnel: new TunnelHttp({
        tunnels: this.tunnels,
        pool,
        metrics: this.metrics,
        logger,
        linkWaitMs: limits.linkWaitMs,
      }),
    })
    const context: SessionContext = {
      pool,
      registry: this.sessions,
      logger,
      metrics: this.metrics,
      limits: {
        maxQueuedMessages: limits.maxQueuedMessages,
        maxBufferedBytes: limits.maxBufferedBytes,
        pollIntervalMs: limits.pollIntervalMs,
        messagesPerSecond: limits.messagesPerSecond,
        messageBurst: limits.messageBurst,
        maxSubscriptions: limits.maxSubscriptions,
        linkWaitMs: limits.linkWaitMs,
      },
      allowPersonMessage: (pubkey) => this.#limits.allowMessage(pubkey),
      tuning: sessionTuning(limits, opts.registry),
    }
    this.#upgrades = new UpgradeHandler({
      gate,
      tunnelWs: this.#tunnelWs,
      sessions: this.sessions,
      context,
      metrics: this.metrics,
      logger,
      maxFrameBytes: limits.maxFrameBytes,
      draining: () => this.#closing !== null,
    })
    this.#server = createServer(SERVER_TIMEOUTS, (req, res) => void this.#onRequest(req, res))
    this.#server.on(
      'upgrade',
      (req: IncomingMessage, socket: Duplex, head: Buffer) =>
        void this.#upgrades.handle(req, socket, head),
    )
    this.#server.on('clientError', (err, socket) => {
      this.#log.debug({ err: err.message }, 'bad client request')
      socket.destroy()
    })
  }

  /** Starts the cache, the session registry and the listener, in that order. */
  async start(): Promise<AddressInfo> {
    this.#starting ??= this.#start()
    return this.#starting
  }

  /** Same as {@link start}. */
  listen(): Promise<AddressInfo> {
    return this.start()
  }

  async #start(): Promise<AddressInfo> {
    this.#owners.start()
    this.#cache.start()
    this.sessions.start()
    this.tunnels.start()
    this.#tunnelWs.start()
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(this.#o.port, this.#o.host, () => {
        this.#server.off('error', reject)
        resolve()
      })
    })
    const address = this.address
    this.#log.info({ host: address.address, port: address.port }, 'proxy listening')
    return address
  }

  get address(): AddressInfo {
    return this.#server.address() as AddressInfo
  }

  /**
   * Graceful stop: refuse new sessions, let sessions' in-flight messages be
   * answered (bounded by shutdownGraceMs; the rest get "error: gateway
   * shutting down"), close them with 1001, release everything in reverse order.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown()
    return this.#closing
  }

  async #shutdown(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()))
    const deadline = Date.now() + this.#o.limits.shutdownGraceMs
    await this.sessions.drain(this.#o.limits.shutdownGraceMs)
    this.#tunnelWs.closeAll(CloseCode.GOING_AWAY, 'gateway shutting down')
    // The sessions' CLOSE-on-leave calls are still on their way to workers.
    while (this.#o.pool.inflight > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    this.#server.closeAllConnections()
    await closed
    this.#upgrades.close()
    await this.#limits.close()
    this.#tunnelWs.close()
    await this.tunnels.close()
    await this.sessions.close()
    await this.#cache.close()
    await this.#owners.close()
    this.#server.removeAllListeners()
  }

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const pathname = q === -1 ? url : url.slice(0, q)
    try {
      if (pathname === '/health') return send(res, 200, { status: 'ok' })
      if (pathname === '/ready') return await this.#ready(res)
      if (pathname === '/') return await this.#statusPage(req, res)
      if (pathname === '/metrics') {
        const text = await this.#o.registry.metrics()
        res.writeHead(200, { 'content-type': this.#o.registry.contentType })
        return void res.end(text)
      }
      if (this.#forwarder.handles(pathname)) return await this.#forwarder.handle(req, res, pathname)
      return await this.#relayDocument(req, res)
    } catch (err) {
      this.#log.error({ err, path: pathname }, 'request failed')
      if (!res.headersSent)
        send(
          res,
          503,
          { error: 'temporarily unavailable', code: wireCode(ErrorCode.UNAVAILABLE) },
          { 'retry-after': '5' },
        )
      else res.destroy()
    }
  }

  // Ready means "route clients here": the pool is up and we are not stopping.
  // A store outage does not count: sessions are admitted from the cache, and
  // taking every proxy out of Caddy's rotation for it would turn a degraded
  // store into a full outage. The body still says how the store is doing.
  async #ready(res: ServerResponse): Promise<void> {
    const store = await this.#o.store.ping().then(
      () => 'ok' as const,
      () => 'unreachable' as const,
    )
    if (this.#closing !== null || !this.#o.pool.started) {
      return send(res, 503, notReadyBody(store, 'starting or shutting down'))
    }
    send(res, 200, { ...readyBody(store), ...this.#o.readyDetails?.() })
  }

  async #relayDocument(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = req.method === 'GET' || req.method === 'HEAD' ? relayTarget(req) : null
    const registration = await resolveFirst(this.#cache, target?.identifiers ?? [])
    if (registration === null) {
      return send(res, 404, { error: 'not found', code: wireCode(ErrorCode.NOT_FOUND) })
    }
    const accept = req.headers.accept ?? ''
    const doc = await relayInfo(registration, this.#o.pool, {
      software: 'hypertuna-gateway',
      version: this.#o.version ?? '0',
      maxMessageLength: this.#o.limits.maxFrameBytes,
      maxSubscriptions: this.#o.limits.maxSubscriptions,
      messagesPerSecond: this.#o.limits.messagesPerSecond,
    })
    if (accept.includes('application/nostr+json')) {
      return send(res, 200, doc, {
        'content-type': 'application/nostr+json',
        'access-control-allow-origin': '*',
      })
    }
    const path = (req.url ?? '/').split('?')[0] as string
    const reachable = registration.peers.some((p) => this.#o.pool.snapshot(p).state === 'ready')
    const workers = registration.peers
      .filter((p) => this.#o.pool.snapshot(p).state === 'ready')
      .map((key) => ({
        key,
        mode: this.tunnels.offers(key, wsService(registration.relayKey))
          ? ('tunnel' as const)
          : ('relay-v2' as const),
      }))
    const html = relayPage({
      registration,
      wsUrl: this.#wsUrl(req, path),
      reachable,
      info: doc,
      workers,
    })
    this.#html(req, res, html)
  }

  async #statusPage(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const health = await this.#health.health(this.#closing !== null)
    this.#html(req, res, statusPage(health))
  }

  #html(req: IncomingMessage, res: ServerResponse, html: string): void {
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': String(Buffer.byteLength(html)),
    })
    res.end(req.method === 'HEAD' ? undefined : html)
  }

  #wsUrl(req: IncomingMessage, path: string): string {
    if (this.#o.publicUrl !== '')
      return this.#o.publicUrl.replace(/^http/, 'ws').replace(/\/$/, '') + path
    const secure = req.headers['x-forwarded-proto'] === 'https'
    return `${secure ? 'wss' : 'ws'}://${req.headers.host ?? 'localhost'}${path}`
  }
}

import type { Socket } from 'node:net'
import Fastify from 'fastify'
import type {
  FastifyBaseLogger,
  FastifyInstance,
  InjectOptions,
  LightMyRequestResponse,
} from 'fastify'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { isUsableSecret } from '../shared/auth/hmac.js'
import { WorkerSecretBox } from '../shared/auth/worker-secret-box.js'
import { ErrorCode, GatewayError } from '../shared/errors.js'
import type { GatewayConfig } from '../shared/config/gateway-config.js'
import {
  CAPABILITIES_HEADER,
  REGISTRAR_CAPABILITIES,
} from '../shared/registrar-api/registrar-capabilities.js'
import { RegistrarErrorCode } from '../shared/registrar-api/registrar-error-code.js'
import { SERVER_TIMEOUTS } from '../shared/process/server-timeouts.js'
import type { GatewayStore } from '../shared/store/gateway-store.js'
import { registerAdminRoutes } from './admin-routes.js'
import { createErrorHandler, notFoundHandler } from './error-handler.js'
import { gatewayDocument, registerGatewayRoutes } from './gateway-routes.js'
import type { GatewayDocument } from '../shared/worker/gateway-document.js'
import { registerOpsRoutes } from './ops-routes.js'
import { createRateLimitHook } from './rate-limit-hook.js'
import type { RequestRateLimiter } from './rate-limit-hook.js'
import { RegistrarMetrics } from './registrar-metrics.js'
import { registerRelayRoutes } from './relay-routes.js'
import { ReplayGuard } from './replay-guard.js'
import type { RouteContext } from './route-context.js'
import { registerTokenRoutes } from './token-routes.js'
import { WorkerAccounts } from './worker-accounts.js'

/** Settings of a {@link RegistrarServer}; {@link registrarServerOptions} reads them from config. */
export interface RegistrarServerOptions {
  host: string
  /** 0 picks a free port. */
  port: number
  /** Shared HMAC secret; an unusable one (e.g. empty) makes every relay route answer 503. */
  secret: string
  /** Lifetime of a registration unless renewed. */
  registrationTtlSeconds: number
  /** How far a signed request's `issuedAt` may be from the registrar's clock. */
  maxSkewSeconds: number
  /** Accept the replayable legacy DELETE signature. */
  legacyDelete: boolean
  bodyLimitBytes: number
  tokenDefaultTtlSeconds: number
  tokenMaxTtlSeconds: number
  /** Peers whose X-Forwarded-For is believed (addresses or CIDRs). */
  trustedProxies: readonly string[]
  /** `Retry-After` of 503 answers. Default 5. */
  retryAfterSeconds?: number
  /** Longest store ping /ready waits for. Default 2000. */
  readyTimeoutMs?: number
  /** Bearer token of the admin API (>= 32 bytes); empty or absent: no admin routes. */
  adminToken?: string
  /** The gateway's public URL, reported to workers; empty: from each request's Host. */
  publicUrl?: string
  /** Published at GET /api/gateway and in registration answers (kit workers dial out). */
  gateway?: GatewayDocument
  /** AES-256-GCM key (64 hex) sealing worker secrets; empty or absent: no worker accounts. */
  workerSecretKey?: string
  /** Refuse the shared secret everywhere (needs `workerSecretKey`). Default false. */
  multiTenant?: boolean
}

/** What a {@link RegistrarServer} is given rather than creates; the caller closes them. */
export interface RegistrarServerDependencies {
  logger: Logger
  registry: Registry
  store: GatewayStore
  rateLimiter: RequestRateLimiter
  /** Clock for signatures' freshness and issued tokens, ms since the epoch. Default Date.now. */
  now?: () => number
}

/** Where a listening {@link RegistrarServer} can be reached. */
export interface RegistrarAddress {
  host: string
  port: number
  /** `http://host:port/`. */
  url: string
}

/** The registrar's settings from the gateway configuration. */
export function registrarServerOptions(config: GatewayConfig): RegistrarServerOptions {
  return {
    host: config.registrar.host,
    port: config.registrar.port,
    secret: config.registration.secret,
    registrationTtlSeconds: config.registration.ttl,
    maxSkewSeconds: config.registrar.maxSkewSeconds,
    legacyDelete: config.registrar.legacyDelete,
    bodyLimitBytes: config.registrar.bodyLimitBytes,
    tokenDefaultTtlSeconds: config.token.defaultTtl,
    tokenMaxTtlSeconds: config.token.maxTtl,
    trustedProxies: config.trustedProxies,
    adminToken: config.admin.token,
    publicUrl: config.publicUrl,
    gateway: gatewayDocument(config),
    workerSecretKey: config.registration.workerSecretKey,
    multiTenant: config.registration.multiTenant,
  }
}

// Fits `<npub>:<name>` relay keys (about 260 characters) with room to spare; longer path
// parameters are refused before routing.
const MAX_PARAM_LENGTH = 512
const CAPABILITIES = REGISTRAR_CAPABILITIES.join(',')

/**
 * The registration API (docs/registrar.md): legacy-compatible `POST`/`DELETE /api/relays`,
 * the replay-proof forms, the token lifecycle, `/health`, `/ready` and `/metrics`.
 */
export class RegistrarServer {
  readonly #options: RegistrarServerOptions
  readonly #log: Logger
  readonly #metrics: RegistrarMetrics
  readonly #app: FastifyInstance
  #listening: Promise<RegistrarAddress> | null = null
  #closing: Promise<void> | null = null
  #address: RegistrarAddress | null = null

  /**
   * @throws GatewayError `CONFIG_INVALID` for multi-tenant mode without an account key, or a
   * malformed key.
   */
  constructor(options: RegistrarServerOptions, dependencies: RegistrarServerDependencies) {
    this.#options = options
    this.#log = dependencies.logger
    const { store, registry, rateLimiter } = dependencies
    const now = dependencies.now ?? Date.now
    const key = options.workerSecretKey ?? ''
    const multiTenant = options.multiTenant ?? false
    if (multiTenant && key === '') {
      throw new GatewayError(
        ErrorCode.CONFIG_INVALID,
        'GATEWAY_MULTI_TENANT needs GATEWAY_WORKER_SECRET_KEY: without the shared secret only worker accounts sign',
      )
    }
    this.#metrics = new RegistrarMetrics({
      registry,
      countRegistrations: async () => (await store.listRegistrations()).length,
    })
    const accounts = new WorkerAccounts({
      store,
      box: key === '' ? null : new WorkerSecretBox(key),
      logger: dependencies.logger,
      metrics: this.#metrics,
      now,
    })
    const retryAfterSeconds = options.retryAfterSeconds ?? 5
    const context: RouteContext = {
      secret: options.secret,
      registrationTtlSeconds: options.registrationTtlSeconds,
      legacyDelete: options.legacyDelete,
      tokenDefaultTtlSeconds: options.tokenDefaultTtlSeconds,
      tokenMaxTtlSeconds: options.tokenMaxTtlSeconds,
      publicUrl: options.publicUrl ?? '',
      store,
      metrics: this.#metrics,
      guard: new ReplayGuard({
        store,
        metrics: this.#metrics,
        now,
        maxSkewSeconds: options.maxSkewSeconds,
      }),
      now,
      gateway: options.gateway ?? { version: 1, gatewayKeys: [], relays: [] },
      multiTenant,
      accounts,
    }
    this.#app = this.#build(context, { store, registry, rateLimiter, retryAfterSeconds })
  }

  /** The bound address once {@link listen} has resolved; null before and after. */
  get address(): RegistrarAddress | null {
    return this.#address
  }

  /** Starts listening; idempotent (later calls share the first). */
  listen(): Promise<RegistrarAddress> {
    if (this.#closing !== null) return Promise.reject(new Error('registrar server is closed'))
    this.#listening ??= this.#listen()
    return this.#listening
  }

  /**
   * Answers one request without a socket (fastify `inject`), for tests. The socket address is
   * 127.0.0.1 unless `remoteAddress` says otherwise.
   */
  inject(request: InjectOptions): Promise<LightMyRequestResponse> {
    return this.#app.inject(request)
  }

  /**
   * Stops accepting requests, lets in-flight ones finish, then unregisters the metrics.
   * Idempotent; the store, limiter, logger and registry stay open (they are the caller's).
   */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #listen(): Promise<RegistrarAddress> {
    await this.#app.listen({ host: this.#options.host, port: this.#options.port })
    const bound = this.#app.server.address()
    if (bound === null || typeof bound === 'string') throw new Error('registrar bound no TCP port')
    const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address
    this.#address = { host: bound.address, port: bound.port, url: `http://${host}:${bound.port}/` }
    if (!isUsableSecret(this.#options.secret) && this.#options.multiTenant !== true) {
      this.#log.warn('no registration secret configured: every relay route answers 503')
    }
    return this.#address
  }

  async #close(): Promise<void> {
    // Reverse order of acquisition: the HTTP server (after any listen in progress), then the
    // metrics it fed.
    await this.#listening?.catch(() => undefined)
    await this.#app.close()
    this.#address = null
    this.#metrics.remove()
  }

  #build(
    context: RouteContext,
    deps: {
      store: GatewayStore
      registry: Registry
      rateLimiter: RequestRateLimiter
      retryAfterSeconds: number
    },
  ): FastifyInstance {
    const handleError = createErrorHandler(deps.retryAfterSeconds)
    const app = Fastify({
      // pino's Logger is what fastify expects; the cast only widens its type parameters.
      loggerInstance: this.#log as FastifyBaseLogger,
      bodyLimit: this.#options.bodyLimitBytes,
      // fastify sets requestTimeout on the server itself (0 unless given), after `http`.
      http: SERVER_TIMEOUTS,
      requestTimeout: SERVER_TIMEOUTS.requestTimeout,
      trustProxy:
        this.#options.trustedProxies.length > 0 ? [...this.#options.trustedProxies] : false,
      routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
      // Our JSON error shape, not fastify's, even while closing or for undecodable URLs.
      return503OnClosing: false,
      frameworkErrors: (err, request, reply) => {
        // The hook is generic in the reply's type, so no concrete body type-checks here.
        void reply.send(handleError(err, request, reply) as never)
      },
      clientErrorHandler: rejectMalformedRequest,
    })
    // Legacy workers may not label their JSON, or may label a bodiless DELETE as JSON: every
    // body is parsed as JSON whatever its type, and an empty one is no body at all.
    const parseJson = app.getDefaultJsonParser('error', 'error')
    app.removeAllContentTypeParsers()
    app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
      if (body.length === 0) done(null, undefined)
      else parseJson(request, body as string, done)
    })
    app.setErrorHandler(handleError)
    app.setNotFoundHandler(notFoundHandler)
    app.addHook(
      'onRequest',
      createRateLimitHook(deps.rateLimiter, this.#metrics, deps.retryAfterSeconds),
    )
    app.addHook('onSend', async (_request, reply) => {
      reply.header(CAPABILITIES_HEADER, CAPABILITIES)
    })
    app.addHook('onResponse', async (request, reply) => {
      this.#metrics.requests.inc({
        route: request.routeOptions.url ?? 'unmatched',
        method: request.method,
        status: String(reply.statusCode),
      })
    })
    registerOpsRoutes(app, {
      store: deps.store,
      registry: deps.registry,
      retryAfterSeconds: deps.retryAfterSeconds,
      readyTimeoutMs: this.#options.readyTimeoutMs ?? 2000,
    })
    registerRelayRoutes(app, context)
    registerGatewayRoutes(app, context.gateway)
    registerTokenRoutes(app, context)
    const adminToken = this.#options.adminToken ?? ''
    if (adminToken !== '') registerAdminRoutes(app, context, adminToken)
    return app
  }
}

const MALFORMED_BODY = JSON.stringify({
  error: 'the request is malformed',
  code: RegistrarErrorCode.INVALID_BODY,
})

// Requests node's HTTP parser refuses never reach fastify's routing; answer them in our shape.
function rejectMalformedRequest(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy()
    return
  }
  const status =
    err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request'
  socket.end(
    `HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nConnection: close\r\n` +
      `Content-Length: ${Buffer.byteLength(MALFORMED_BODY)}\r\n\r\n${MALFORMED_BODY}`,
  )
}

import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { DEFAULT_CLIENT_TOKEN_TTL_MS } from '../auth/client-token.js'
import { ErrorCode } from '../errors.js'
import {
  CAPABILITIES_PATH,
  PUBLIC_URL_HEADER,
  REGISTRATION_TTL_HEADER,
  RegistrarCapability,
} from '../registrar-api/registrar-capabilities.js'
import type { RegistrarCapabilityName } from '../registrar-api/registrar-capabilities.js'
import { SignedAction } from '../registrar-api/signed-request.js'
import type { SignedActionName } from '../registrar-api/signed-request.js'
import type { Registration, RelayMetadata } from '../registrar-api/registration.js'
import { parseGatewayDocument } from './gateway-document.js'
import type { GatewayDocument } from './gateway-document.js'
import { RegistrarHttp, relayPath } from './registrar-http.js'
import type { RegistrarAnswer } from './registrar-http.js'
import { RegistrarRequestError } from './registrar-request-error.js'
import { RegistrarSigner } from './registrar-signer.js'
import { RenewalScheduler } from './renewal-scheduler.js'
import { shareUrl } from './share-url.js'

/** Options of {@link RegistrarClient}. */
export interface RegistrarClientOptions {
  /** Base URL of the registrar (or of the gateway edge routing `/api` to it). */
  registrarUrl: string
  /**
   * The shared registration secret (`GATEWAY_REGISTRATION_SECRET`), or, with `workerId`, the
   * worker account's own secret.
   */
  secret: string
  /**
   * The worker account this worker signs as (docs/registrar.md, tenancy); its relays are then
   * its own. Absent: the legacy shared secret.
   */
  workerId?: string
  logger?: Logger
  /** Clock for `issuedAt`, ms since the epoch. Default Date.now. */
  now?: () => number
  /** Registration lifetime assumed when the registrar does not announce one. Default 300. */
  defaultTtlSeconds?: number
  /** Renew after this fraction of the lifetime. Default 0.5. */
  renewFraction?: number
  /** Renewal delays vary by up to ± this fraction, so workers do not renew in lockstep. Default 0.1. */
  jitter?: number
  /** Delay before retrying a failed renewal, doubling up to `maxMs`. Default 1 s to 30 s. */
  retry?: { minMs: number; maxMs: number }
  /** HTTP client; default the global `fetch` (pass one that trusts a private CA, a proxy...). */
  fetch?: typeof fetch
  /** Deadline of one HTTP call. Default 10 000. */
  requestTimeoutMs?: number
  /** Uniform random numbers in [0, 1), for jitter. Default Math.random. */
  random?: () => number
}

/** A relay as a worker registers it. */
export interface RelayToRegister {
  /** 64 hex characters, or `<npub>:<name>`. */
  relayKey: string
  /** The worker's swarm keys (64 lowercase hex), in preference order. */
  peers: readonly string[]
  metadata?: RelayMetadata
}

/** Outcome of {@link RegistrarClient.register}. */
export interface RegisterResult {
  /** Lifetime the registrar gives the registration (announced, or the configured default). */
  ttlSeconds: number
  /** The gateway's public base URL as the registrar reports it; null from older registrars. */
  publicUrl: string | null
  /** The gateway's swarm keys and relays, when the registrar publishes them (dial-out). */
  gateway?: GatewayDocument
}

/** Outcome of {@link RegistrarClient.unregister}. */
export interface UnregisterResult {
  form: 'replay-proof' | 'legacy'
  /** False when the registrar had no such registration (the legacy form always says true). */
  removed: boolean
}

/** A client token and where it came from. */
export interface TokenGrant {
  token: string
  issuedAt: number
  expiresAt: number
  /** Per-relay sequence of registrar-issued tokens; absent on locally minted ones. */
  seq?: number
  source: 'local' | 'registrar'
}

/** Options of {@link RegistrarClient.issueToken}. */
export interface IssueTokenOptions {
  /** Lifetime; the registrar's default (or one hour locally) when omitted. */
  ttlSeconds?: number
  /**
   * `local` mints with the shared secret (legacy; no `seq`); `registrar` asks the registrar;
   * `auto` (default) asks the registrar when it offers tokens, else mints locally.
   */
  via?: 'local' | 'registrar' | 'auto'
  /** A per-user token: the person it is for (64 lowercase hex, a Nostr pubkey). */
  pubkey?: string
  /** The worker's credential for that person, handed back to the worker as `x-auth-token`. */
  relayAuthToken?: string
}

/** The events of a {@link RegistrarClient}. */
export interface RegistrarClientEvents {
  /** A renewal re-registered `relayKey`. */
  renewed: [relayKey: string]
  /** A renewal failed; it is retried with backoff. */
  'renewal-failed': [relayKey: string, error: Error]
}

const JSON_HEADERS = { 'content-type': 'application/json' }

/**
 * A worker's side of the registration API (docs/registrar.md). Registers relays with the
 * legacy payload every registrar understands, keeps them registered, and uses the replay-proof
 * forms whenever the registrar offers them. Uses `fetch` (injectable).
 *
 * Errors are {@link RegistrarRequestError}s: `code` is the kind of failure, `status` and
 * `registrarCode` what the registrar answered.
 */
export class RegistrarClient extends EventEmitter<RegistrarClientEvents> {
  readonly #http: RegistrarHttp
  readonly #signer: RegistrarSigner
  readonly #log: Logger | undefined
  readonly #defaultTtl: number
  readonly #renewals: RenewalScheduler
  #capabilities: ReadonlySet<string> | null = null

  /** @throws GatewayError `SECRET_TOO_SHORT` */
  constructor(options: RegistrarClientOptions) {
    super()
    this.#signer = new RegistrarSigner(options)
    this.#http = new RegistrarHttp(
      options.registrarUrl,
      options.requestTimeoutMs ?? 10_000,
      options.fetch ?? fetch,
    )
    this.#log = options.logger
    this.#defaultTtl = options.defaultTtlSeconds ?? 300
    this.#renewals = new RenewalScheduler({
      register: (relay) => this.#register(relay),
      isClosed: () => this.#http.closed,
      onRenewed: (relayKey) => this.emit('renewed', relayKey),
      onFailed: (relayKey, error) => this.emit('renewal-failed', relayKey, error),
      logger: options.logger,
      renewFraction: options.renewFraction ?? 0.5,
      jitter: options.jitter ?? 0.1,
      retry: options.retry ?? { minMs: 1_000, maxMs: 30_000 },
      random: options.random ?? Math.random,
    })
  }

  /**
   * Registers (or re-registers) a relay with a freshly signed legacy payload
   * `{relayKey, nonce, issuedAt, peers, metadata}`, and remembers it for renewal.
   */
  async register(relay: RelayToRegister): Promise<RegisterResult> {
    const result = await this.#register(relay)
    this.#renewals.remember(relay, result.ttlSeconds)
    return result
  }

  /**
   * Keeps every relay registered through {@link register} alive: each is re-registered after
   * `renewFraction` of its lifetime (jittered), and a failed renewal is retried with backoff
   * well before the registration lapses. {@link close} stops it.
   */
  startRenewal(): void {
    if (this.#http.closed) {
      throw new RegistrarRequestError(ErrorCode.CLIENT_CLOSED, 'registrar client is closed')
    }
    this.#renewals.start()
  }

  /**
   * Stops renewing `relayKey` and removes its registration: with the replay-proof DELETE when
   * the registrar offers it, else with the legacy one (whose signature can be replayed forever).
   */
  async unregister(relayKey: string): Promise<UnregisterResult> {
    // A renewal that lands after the DELETE would bring the relay back until its TTL.
    await this.#renewals.forget(relayKey)
    const path = relayPath(relayKey)
    if (
      this.#signer.workerId !== undefined ||
      (await this.supports(RegistrarCapability.REPLAY_PROOF_DELETE))
    ) {
      const answer = await this.#http.call('DELETE', path, {
        headers: this.#signer.headers(relayKey, SignedAction.DELETE),
        accept: [200, 404],
      })
      return { form: 'replay-proof', removed: answer.status === 200 }
    }
    await this.#http.call('DELETE', path, { headers: this.#signer.legacyDeleteHeaders(relayKey) })
    return { form: 'legacy', removed: true }
  }

  /** The registration as the registrar stores it, with its remaining lifetime. */
  async getRegistration(relayKey: string): Promise<{ registration: Registration; ttlMs: number }> {
    await this.#require(RegistrarCapability.REGISTRATION_GET)
    const answer = await this.#http.call('GET', relayPath(relayKey), {
      headers: this.#signer.headers(relayKey, SignedAction.GET),
    })
    return answer.body as { registration: Registration; ttlMs: number }
  }

  /** A client token for `relayKey`; see {@link IssueTokenOptions.via}. */
  async issueToken(relayKey: string, options: IssueTokenOptions = {}): Promise<TokenGrant> {
    const via = options.via ?? 'auto'
    const remote =
      via === 'registrar' || (via === 'auto' && (await this.supports(RegistrarCapability.TOKENS)))
    if (!remote) {
      const ttlMs =
        options.ttlSeconds === undefined ? DEFAULT_CLIENT_TOKEN_TTL_MS : options.ttlSeconds * 1000
      const { pubkey, relayAuthToken } = options
      const { token, issuedAt } = this.#signer.localToken(relayKey, {
        ttlMs,
        pubkey,
        relayAuthToken,
      })
      return { token, issuedAt, expiresAt: issuedAt + ttlMs, source: 'local' }
    }
    await this.#require(RegistrarCapability.TOKENS)
    return this.#tokenCall(relayKey, SignedAction.TOKEN_ISSUE, '', {
      ...(options.ttlSeconds === undefined ? {} : { ttl: options.ttlSeconds }),
      ...(options.pubkey === undefined ? {} : { pubkey: options.pubkey }),
      ...(options.relayAuthToken === undefined ? {} : { relayAuthToken: options.relayAuthToken }),
    })
  }

  /**
   * Trades a still-valid, unrevoked token for a new one with a fresh expiry (by default the
   * old token's lifetime). The old token stays valid until it expires or is revoked.
   */
  async refreshToken(
    relayKey: string,
    token: string,
    options: { ttlSeconds?: number } = {},
  ): Promise<TokenGrant> {
    await this.#require(RegistrarCapability.TOKENS)
    return this.#tokenCall(relayKey, SignedAction.TOKEN_REFRESH, '/refresh', {
      token,
      ...(options.ttlSeconds === undefined ? {} : { ttl: options.ttlSeconds }),
    })
  }

  /**
   * Revokes every token issued for `relayKey` so far, registrar-issued and locally minted
   * alike; proxies learn of it through the store's change feed.
   */
  async revokeTokens(relayKey: string): Promise<{ revokedAt: number; minSeq: number }> {
    await this.#require(RegistrarCapability.TOKENS)
    const answer = await this.#signedPost(relayKey, SignedAction.TOKEN_REVOKE, '/revoke', {})
    const { revokedAt, minSeq } = answer.body as { revokedAt: number; minSeq: number }
    return { revokedAt, minSeq }
  }

  /** The share URL for clients; see {@link shareUrl}. */
  shareUrl(gatewayPublicUrl: string, gatewayPath: string, token: string): string {
    return shareUrl(gatewayPublicUrl, gatewayPath, token)
  }

  /** True when the registrar offers `capability` (asked once, then remembered). */
  async supports(capability: RegistrarCapabilityName): Promise<boolean> {
    return (await this.capabilities()).has(capability)
  }

  /**
   * The registrar's capabilities: from the header on any earlier answer, else from
   * `GET /api/capabilities`. A legacy registrar (404 there) has none.
   */
  async capabilities(): Promise<ReadonlySet<string>> {
    const known = this.#http.advertised ?? this.#capabilities
    if (known !== null) return known
    const answer = await this.#http.call('GET', CAPABILITIES_PATH, { accept: [200, 404] })
    if (this.#http.advertised !== null) return this.#http.advertised
    const listed = (answer.body as { capabilities?: unknown } | null)?.capabilities
    this.#capabilities = new Set(
      answer.status === 200 && Array.isArray(listed)
        ? listed.filter((c): c is string => typeof c === 'string')
        : [],
    )
    return this.#capabilities
  }

  /** Stops renewal and aborts calls in flight; idempotent. Registrations are left to lapse. */
  async close(): Promise<void> {
    this.#renewals.stop()
    await this.#http.close()
  }

  async #register(relay: RelayToRegister): Promise<RegisterResult> {
    if (this.#signer.workerId !== undefined)
      await this.#require(RegistrarCapability.WORKER_ACCOUNTS)
    const answer = await this.#http.call('POST', '/api/relays', {
      headers: JSON_HEADERS,
      body: JSON.stringify(this.#signer.registration(relay)),
    })
    const announced = Number(answer.headers.get(REGISTRATION_TTL_HEADER))
    const ttlSeconds =
      Number.isSafeInteger(announced) && announced > 0 ? announced : this.#defaultTtl
    this.#log?.debug({ relayKey: relay.relayKey, ttlSeconds }, 'relay registered')
    const publicUrl = answer.headers.get(PUBLIC_URL_HEADER)
    const gateway = parseGatewayDocument((answer.body as { gateway?: unknown } | null)?.gateway)
    return gateway === null ? { ttlSeconds, publicUrl } : { ttlSeconds, publicUrl, gateway }
  }

  async #tokenCall(
    relayKey: string,
    action: SignedActionName,
    suffix: string,
    extra: Record<string, unknown>,
  ): Promise<TokenGrant> {
    const answer = await this.#signedPost(relayKey, action, suffix, extra)
    const { token, issuedAt, expiresAt, seq } = answer.body as Omit<TokenGrant, 'source'>
    return { token, issuedAt, expiresAt, seq, source: 'registrar' }
  }

  #signedPost(
    relayKey: string,
    action: SignedActionName,
    suffix: string,
    extra: Record<string, unknown>,
  ): Promise<RegistrarAnswer> {
    return this.#http.call('POST', `${relayPath(relayKey)}/tokens${suffix}`, {
      headers: JSON_HEADERS,
      body: JSON.stringify(this.#signer.body(relayKey, action, extra)),
    })
  }

  async #require(capability: RegistrarCapabilityName): Promise<void> {
    if (await this.supports(capability)) return
    throw new RegistrarRequestError(
      ErrorCode.REGISTRAR_UNSUPPORTED,
      `the registrar does not offer ${capability}`,
    )
  }
}

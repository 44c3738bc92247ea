import { createHash } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { Logger } from 'pino'
import {
  checkClientToken,
  readClientToken,
  tokenPubkey,
  workerToken,
} from '../shared/auth/client-token.js'
import { isTokenRevoked } from '../shared/store/gateway-store.js'
import { clientAddress } from './client-address.js'
import { CloseCode } from './close-codes.js'
import type { OwnerSecrets } from './owner-secrets.js'
import type { ProxyMetrics } from './proxy-metrics.js'
import { resolveFirst } from './registration-cache.js'
import type { RegistrationCache } from './registration-cache.js'
import { relayTarget } from './relay-target.js'
import type { SessionIdentity } from './relay-session.js'
import type { SenderLimits } from './sender-limits.js'
import type { SessionSlot } from './session-slots.js'

/** Why a connection is refused: a close code, its reason and an optional NOTICE. */
export interface Refusal {
  code: number
  reason: string
  notice?: string
}

/**
 * An admitted session holds `slot` under the sender limits until it ends: whoever takes the
 * admission releases it, also when the socket is gone before the session starts.
 */
export type Admission =
  { ok: true; identity: SessionIdentity; slot: SessionSlot } | ({ ok: false } & Refusal)

/** Options of {@link SessionGate}. */
export interface SessionGateOptions {
  /** The shared secret, for relays no worker account owns; empty: such relays are refused. */
  secret: string
  /** Secrets of the accounts that own relays; absent: worker accounts are off here. */
  owners?: Pick<OwnerSecrets, 'enabled' | 'secret'>
  cache: RegistrationCache
  limits: SenderLimits
  metrics: ProxyMetrics
  logger: Logger
  trustedProxies: ReadonlySet<string>
  now?: () => number
}

const refuse = (code: number, reason: string, notice?: string): Admission =>
  notice === undefined ? { ok: false, code, reason } : { ok: false, code, reason, notice }

/**
 * Decides whether a WebSocket request may open a relay session: path, token
 * (signature, expiry, relay binding, revocation), registration, and the
 * limits keyed on who is sending (token, client IP, and the person a token
 * names). A relay a worker account owns takes only tokens signed with that
 * account's secret; the shared secret serves the relays nobody owns. Cheap
 * checks run first; only a well-formed token reaches the (cached) store.
 */
export class SessionGate {
  readonly #o: SessionGateOptions

  constructor(opts: SessionGateOptions) {
    this.#o = opts
  }

  async admit(req: IncomingMessage): Promise<Admission> {
    const { metrics, owners } = this.#o
    if (this.#o.secret === '' && owners?.enabled !== true) {
      return refuse(CloseCode.INTERNAL, 'gateway not configured')
    }
    const target = relayTarget(req)
    if (target === null) return refuse(CloseCode.NOT_FOUND, 'malformed relay path')
    if (target.token === null) {
      metrics.tokenRejected('missing')
      return refuse(CloseCode.FORBIDDEN, 'token missing')
    }
    const signed = readClientToken(target.token)
    if (signed === null) {
      metrics.tokenRejected('malformed')
      return refuse(CloseCode.FORBIDDEN, 'token malformed')
    }
    const registration = await resolveFirst(this.#o.cache, target.identifiers)
    if (registration === null) return refuse(CloseCode.NOT_FOUND, 'relay unknown')
    let secret = this.#o.secret
    if (registration.workerId !== undefined) {
      // An owner that is gone (disabled, unknown here) leaves its relays unknown, not forbidden.
      const owned = (await owners?.secret(registration.workerId)) ?? null
      if (owned === null) return refuse(CloseCode.NOT_FOUND, 'relay unknown')
      secret = owned
    }
    const now = (this.#o.now ?? Date.now)()
    const verdict = checkClientToken(secret, signed, { now })
    if (!verdict.ok) {
      metrics.tokenRejected(verdict.reason)
      return refuse(CloseCode.FORBIDDEN, `token ${verdict.reason}`)
    }
    const bound = verdict.payload.relayKey
    if (
      typeof bound === 'string' &&
      bound !== registration.relayKey &&
      bound !== registration.metadata.gatewayPath &&
      !target.identifiers.includes(bound)
    ) {
      metrics.tokenRejected('wrong-relay')
      return refuse(CloseCode.FORBIDDEN, 'token wrong-relay')
    }
    const state = await this.#o.cache.tokenState(registration.relayKey)
    if (isTokenRevoked(state, verdict.payload)) {
      metrics.tokenRejected('revoked')
      return refuse(CloseCode.FORBIDDEN, 'token revoked')
    }
    const tokenId = createHash('sha256').update(target.token).digest('hex').slice(0, 24)
    const ip = clientAddress(req, this.#o.trustedProxies)
    const pubkey = tokenPubkey(verdict.payload)
    const granted = await this.#o.limits.admit({ tokenId, ip, pubkey })
    if (!granted.ok) {
      const { limit } = granted
      metrics.limitHit(limit)
      const what = limit === 'session_open_rate' ? 'new sessions' : 'sessions'
      return refuse(
        CloseCode.POLICY,
        limit.replaceAll('_', ' '),
        `rate-limited: too many ${what} (${limit})`,
      )
    }
    return {
      ok: true,
      slot: granted.slot,
      identity: {
        registration,
        token: target.token,
        workerToken: workerToken(target.token, verdict.payload),
        tokenId,
        tokenPayload: verdict.payload,
        pubkey,
        ip,
      },
    }
  }
}

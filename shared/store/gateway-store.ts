import { ErrorCode, GatewayError } from '../errors.js'
import type { Registration } from '../registrar-api/registration.js'

// The registration document is the registrar API's (workers read it too); the store keeps it.
export type { Registration, RelayMetadata } from '../registrar-api/registration.js'

/** Options of {@link GatewayStore.putRegistration}. */
export interface PutRegistrationOptions {
  /** Refuse (GATEWAY_PATH_TAKEN) rather than take a gatewayPath another live relay holds. */
  exclusiveAlias?: boolean
  /** The registrant: a worker account's id; absent or null: the legacy shared secret. */
  workerId?: string | null
}

/** Options of {@link GatewayStore.removeRegistration}. */
export interface RemoveRegistrationOptions {
  /**
   * The signer: a worker account's id, or null for the shared secret; an owned relay is then
   * removed only by its owner, and the owner's removal also releases it. Absent: an operator's
   * removal (admin API), which checks nothing and keeps the ownership.
   */
  workerId?: string | null
}

/** A worker account as the store keeps it (docs/registrar.md, tenancy). */
export interface WorkerRecord {
  /** 32 lowercase hex characters. */
  workerId: string
  /** The operator's label; not unique. */
  name: string
  /** ms since epoch. */
  createdAt: number
  /** ms since epoch; null while active. Disabling is final. */
  disabledAt: number | null
  /** The signing secret sealed with the gateway's account key (WorkerSecretBox); null once disabled. */
  sealedSecret: string | null
}

/** Who owns a relay key and the alias it claimed; outlives the registration's TTL. */
export interface RelayOwner {
  relayKey: string
  workerId: string
  /** The alias the owner's newest registration claimed, or null. */
  gatewayPath: string | null
  /** ms since epoch of the owner's first registration of this relay. */
  claimedAt: number
}

/** What {@link GatewayStore.disableWorker} did. */
export interface DisabledWorker {
  worker: WorkerRecord
  /** Relay keys whose live registrations were removed. */
  removed: string[]
}

/**
 * Per-relay token revocation state. Registrar-issued tokens carry `seq`; a token
 * is revoked when `seq < minSeq`. Tokens without `seq` (minted by legacy workers)
 * are revoked when `issuedAt <= revokedAt`.
 */
export interface TokenState {
  /** Last sequence number handed out (0 = none yet). */
  seq: number
  minSeq: number
  /** ms since epoch of the last revocation, 0 = never. */
  revokedAt: number
}

/** What one proxy saw of one worker (pooled peer) when it last reported. */
export interface PeerReportEntry {
  /** The pool's state of the link (`connecting`, `ready`, `unhealthy`, `down`). */
  state: string
  sessions: number
  latencyMs: number | null
}

/**
 * A proxy's periodic snapshot for operators (admin API): its pooled peers and live sessions
 * per relay. Each proxy rewrites its own with a short TTL, so a stopped proxy's report lapses.
 */
export interface ProxyReport {
  /** Stable for the life of the proxy process (its swarm key). */
  proxyId: string
  /** ms since epoch, the proxy's clock. */
  reportedAt: number
  /** Live client sessions of this proxy. */
  sessions: number
  /** Live sessions per relay key (relays without sessions are absent). */
  relays: Record<string, number>
  /** Per pooled worker key. */
  peers: Record<string, PeerReportEntry>
}

/** Usage counters kept per token (or other bounded key). */
export type UsageCounters = Record<string, number>

/**
 * Change-feed events every process receives, its own writes included. The feed
 * is at-most-once: `resync` says it was down and changes may have been missed,
 * so caches should drop what they hold. Expiry is never announced.
 */
export type StoreChange =
  | { type: 'registration'; relayKey: string }
  | { type: 'registration-removed'; relayKey: string }
  | { type: 'tokens-revoked'; relayKey: string; state: TokenState }
  /** Announced before the `registration-removed` of each of `relayKeys`. */
  | { type: 'worker-disabled'; workerId: string; relayKeys: string[] }
  /** An operator released the relay from `workerId`, its previous owner. */
  | { type: 'relay-released'; relayKey: string; workerId: string }
  | { type: 'resync' }

export type ChangeListener = (change: StoreChange) => void

/**
 * The one store interface registrar and proxy share. `MemoryStore` serves one
 * process; `RedisStore` shares state between processes and machines.
 *
 * Failures of the backing service reject with GatewayError `STORE_UNAVAILABLE`;
 * use after close rejects with `STORE_CLOSED`. No method half-applies a write.
 */
export interface GatewayStore {
  /**
   * Stores (or replaces) a registration for `ttlSeconds`, with its gatewayPath alias, and
   * announces it. With `exclusiveAlias` the alias claim is atomic: when another live relay
   * (whose registration still names that path) holds it, nothing is written and it rejects with
   * GatewayError `GATEWAY_PATH_TAKEN`; of concurrent claims exactly one wins. Without it the newest
   * write takes the alias.
   *
   * Ownership, in the same atomic step: it rejects `RELAY_OWNED` when the relay or the alias is
   * owned by another account (by any account, for the shared secret), or when an account
   * registers a relay live under the shared secret; `WORKER_DISABLED` when the account is
   * unknown or disabled. An account's write stamps `workerId` on the stored registration and
   * records the account as the relay's (and alias's) owner, with no expiry.
   */
  putRegistration(
    registration: Registration,
    ttlSeconds: number,
    options?: PutRegistrationOptions,
  ): Promise<void>
  /** By relay key; null when absent or expired. */
  getRegistration(relayKey: string): Promise<Registration | null>
  /** By relay key or by gatewayPath alias. */
  resolveRelay(keyOrAlias: string): Promise<Registration | null>
  /** Remaining lifetime in ms; null when absent. */
  registrationTtl(relayKey: string): Promise<number | null>
  /**
   * Removes a registration and its alias; false when there was none. With a signer (see
   * {@link RemoveRegistrationOptions}) an owned relay rejects `RELAY_OWNED` unless the signer is
   * its owner, whose removal also releases the relay.
   */
  removeRegistration(relayKey: string, options?: RemoveRegistrationOptions): Promise<boolean>
  /** Every live registration, for operators. */
  listRegistrations(): Promise<Registration[]>

  /** Stores a new account; rejects `WORKER_EXISTS` when the id is taken. */
  createWorker(record: WorkerRecord): Promise<void>
  /** By id, disabled ones included; null when unknown. */
  getWorker(workerId: string): Promise<WorkerRecord | null>
  /** Every account, disabled ones included. */
  listWorkers(): Promise<WorkerRecord[]>
  /**
   * Disables an account (final): drops its sealed secret and removes every live registration it
   * owns; its relays stay owned by it until released. Announces `worker-disabled`, then a
   * `registration-removed` per relay. Null for an unknown id; an account already disabled
   * answers its record and no removals.
   */
  disableWorker(workerId: string, now?: number): Promise<DisabledWorker | null>
  /** The owner of a relay key; null when unowned. */
  getRelayOwner(relayKey: string): Promise<RelayOwner | null>
  /** Relay keys an account owns, registered or not. */
  listWorkerRelays(workerId: string): Promise<string[]>
  /**
   * An operator's release: drops the ownership and the live registration (else the owner's next
   * renewal would claim it again). Announces `registration-removed` (when one was live), then
   * `relay-released`. Null when the relay was not owned.
   */
  releaseRelay(relayKey: string): Promise<RelayOwner | null>

  /** Records a single-use nonce; false when it was already used within `ttlSeconds`. */
  useNonce(scope: string, nonce: string, ttlSeconds: number): Promise<boolean>

  /** Current revocation state; all zeros for a relay never seen. */
  getTokenState(relayKey: string): Promise<TokenState>
  /** Allocates the next token sequence number for a relay. */
  nextTokenSeq(relayKey: string): Promise<number>
  /** Revokes every token issued so far for a relay and announces it. */
  revokeTokens(relayKey: string, now?: number): Promise<TokenState>

  /** Adds to usage counters of `key` (e.g. a token id). */
  addUsage(key: string, counters: UsageCounters): Promise<void>
  getUsage(key: string): Promise<UsageCounters>

  /** Stores (replaces) a proxy's report for `ttlSeconds`. */
  putProxyReport(report: ProxyReport, ttlSeconds: number): Promise<void>
  /** Every proxy report that has not lapsed. */
  listProxyReports(): Promise<ProxyReport[]>

  /** Subscribes to the change feed; returns an unsubscribe. */
  subscribe(listener: ChangeListener): () => void
  /** Rejects STORE_UNAVAILABLE when the backing service cannot be reached. */
  ping(): Promise<void>
  /** Idempotent; releases connections and listeners. */
  close(): Promise<void>
}

/** True when a token with this payload has been revoked under `state`. */
export function isTokenRevoked(
  state: TokenState,
  payload: { seq?: unknown; issuedAt?: unknown },
): boolean {
  if (typeof payload.seq === 'number') return payload.seq < state.minSeq
  if (state.revokedAt === 0) return false
  return typeof payload.issuedAt !== 'number' || payload.issuedAt <= state.revokedAt
}

/** The refusal of a write to a relay (or alias) another registrant owns. */
export function relayOwned(relayKey: string): GatewayError {
  return new GatewayError(ErrorCode.RELAY_OWNED, 'another registrant owns this relay', {
    details: { relayKey },
  })
}

/** The refusal of a write by an unknown or disabled account. */
export function workerDisabled(workerId: string): GatewayError {
  return new GatewayError(ErrorCode.WORKER_DISABLED, 'the worker account is disabled', {
    details: { workerId },
  })
}

/** The refusal of {@link GatewayStore.putRegistration} for a gatewayPath another relay holds. */
export function aliasTaken(path: string | null): GatewayError {
  return new GatewayError(ErrorCode.GATEWAY_PATH_TAKEN, 'another relay holds this gatewayPath', {
    details: { gatewayPath: path },
  })
}

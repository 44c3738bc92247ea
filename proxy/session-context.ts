import type { Logger } from 'pino'
import type { Registration } from '../shared/store/gateway-store.js'
import type { PeerSnapshot } from '../shared/swarm/select-peer.js'
import type { ProxyMetrics } from './proxy-metrics.js'
import type { RelaySession } from './relay-session.js'
import type { SessionTuning } from './session-tuning.js'
import type { WorkerLease } from './worker-link.js'

/** Per-session limits, from the proxy's config. */
export interface SessionLimits {
  maxQueuedMessages: number
  maxBufferedBytes: number
  pollIntervalMs: number
  /** Sustained client messages per second per session. */
  messagesPerSecond: number
  /** Messages a session may send at once above the sustained rate. */
  messageBurst: number
  maxSubscriptions: number
  /** How long messages wait for a worker link (cold start, failover) before refusal. */
  linkWaitMs: number
}

/** What a session needs of the peer pool (PeerPool has it; tests pass a stub). */
export interface SessionPool {
  select(keys: readonly string[], exclude?: ReadonlySet<string>): string | null
  snapshot(key: string): PeerSnapshot
  lease(key: string): WorkerLease
  /** Resolves once `key`'s connection is open; rejects when this attempt fails. */
  acquire(key: string): Promise<unknown>
  /** The best ready worker of `keys` (fewest sessions first), waiting up to `timeoutMs`; warms them all. */
  whenReady(
    keys: readonly string[],
    timeoutMs: number,
    exclude?: ReadonlySet<string>,
  ): Promise<string | null>
}

/** The registry's side of a session: indexes, events, usage (SessionRegistry implements it). */
export interface SessionOwner {
  /** The session's worker changed (`null`: none). */
  linked(session: RelaySession, from: string | null, to: string | null): void
  /** The session moved to another worker and replayed its subscriptions there. */
  moved(session: RelaySession, from: string, to: string): void
  closed(session: RelaySession): void
  countUsage(tokenId: string, messages: number, bytes: number): void
}

/** Shared, per-process dependencies of every session. */
export interface SessionContext {
  pool: SessionPool
  registry: SessionOwner
  metrics: ProxyMetrics
  logger: Logger
  limits: SessionLimits
  /** Synchronous: true when this person (a token's pubkey) may send one more message now. */
  allowPersonMessage?(pubkey: string): boolean
  /** Legacy pipelining and event-triggered polling (session-tuning.ts); absent: both off. */
  tuning?: SessionTuning
}

/** Who the session is for, settled before the upgrade. */
export interface SessionIdentity {
  registration: Registration
  token: string
  tokenId: string
  tokenPayload: { seq?: unknown; issuedAt?: unknown; expiresAt?: unknown }
  /** What the worker receives as `x-auth-token`: the token's relayAuthToken, else the token. */
  workerToken: string
  /** The person the token names; null for a share link. */
  pubkey: string | null
  ip: string
}

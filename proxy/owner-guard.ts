import type { Logger } from 'pino'
import type { GatewayStore } from '../shared/store/gateway-store.js'
import type { PeerPool } from '../shared/swarm/peer-pool.js'
import { OwnerPeers } from './owner-peers.js'
import { OwnerSecrets } from './owner-secrets.js'
import type { SecretOpener } from './owner-secrets.js'
import { OwnerSessions } from './owner-sessions.js'
import type { OwnerSessionsOptions } from './owner-sessions.js'
import type { ProxyMetrics } from './proxy-metrics.js'
import type { RegistrationCache } from './registration-cache.js'

/** Options of {@link OwnerGuard}. */
export interface OwnerGuardOptions {
  store: GatewayStore
  /** Opens worker accounts' sealed secrets; null: worker accounts are off here. */
  opener: SecretOpener | null
  cache: RegistrationCache
  pool: Pick<PeerPool, 'allow' | 'disallow'>
  sessions: OwnerSessionsOptions['sessions']
  metrics: ProxyMetrics
  logger: Logger
}

/**
 * The proxy's side of worker accounts, in one lifecycle: the owners' secrets (for the gate),
 * the pool's allow-list of the workers owners listed, and the end of a disabled account's
 * sessions. Start it before the registration cache, so the cache's first announcements are
 * heard; close it after.
 */
export class OwnerGuard {
  readonly secrets: OwnerSecrets
  readonly #peers: OwnerPeers
  readonly #sessions: OwnerSessions

  constructor(opts: OwnerGuardOptions) {
    const { store, opener, cache, pool, sessions, metrics, logger } = opts
    this.secrets = new OwnerSecrets({ store, opener, logger })
    this.secrets.on('unreadable', () => metrics.workerSecretsUnreadable.inc())
    this.#peers = new OwnerPeers({ cache, pool })
    this.#sessions = new OwnerSessions({ owners: this.secrets, sessions, metrics, logger })
  }

  start(): void {
    this.secrets.start()
    this.#sessions.start()
    this.#peers.start()
  }

  /** Idempotent. */
  async close(): Promise<void> {
    this.#peers.close()
    this.#sessions.close()
    await this.secrets.close()
  }
}

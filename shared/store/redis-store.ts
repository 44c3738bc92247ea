import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { ErrorCode, GatewayError } from '../errors.js'
import type { BackoffOptions } from '../retry/backoff.js'
import type {
  ChangeListener,
  DisabledWorker,
  GatewayStore,
  ProxyReport,
  PutRegistrationOptions,
  Registration,
  RelayOwner,
  RemoveRegistrationOptions,
  StoreChange,
  TokenState,
  UsageCounters,
  WorkerRecord,
} from './gateway-store.js'
import { aliasTaken, relayOwned, workerDisabled } from './gateway-store.js'
import { RedisChangeFeed } from './redis-change-feed.js'
import { RedisConnection, redisEndpoint } from './redis-connection.js'
import { RedisKeys, mgetChunked, scanKeys } from './redis-keys.js'
import { RedisCounters } from './redis-counters.js'
import { RedisTenancy } from './redis-tenancy.js'
import { PUT_REGISTRATION, REMOVE_REGISTRATION, runScript } from './redis-scripts.js'
import {
  gatewayPathOf,
  nonceId,
  normalizeProxyReport,
  normalizeRegistration,
  parseProxyReport,
  parseRegistration,
  ttlToMs,
} from './store-values.js'

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /** `redis://` or `rediss://` URL; may carry a password, so it is never logged. */
  url: string
  /** Prepended to every key and to the change-feed channel, e.g. `gateway:registrations:`. */
  prefix: string
  logger: Logger
  /**
   * Bound on one connection attempt, and on how long calls made right after construction wait
   * for the first one. Default 3 s.
   */
  connectTimeoutMs?: number
  /**
   * A command with no reply by then fails (a dead peer may never reset the socket). Default 2 s.
   */
  commandTimeoutMs?: number
  /** Reconnect backoff (exponential, jittered). Default 100 ms to 5 s. */
  reconnect?: BackoffOptions
}

/**
 * {@link GatewayStore} on Redis, shared by every gateway process using the same URL and
 * prefix. Multi-key writes run as Lua scripts (atomic, announced in the same step). Calls fail
 * fast with STORE_UNAVAILABLE while Redis is unreachable (nothing is queued behind an outage)
 * and the store reconnects on its own; the change feed uses a second connection.
 */
export class RedisStore implements GatewayStore {
  readonly #command: RedisConnection
  readonly #feed: RedisChangeFeed
  readonly #log: Logger
  readonly #keys: RedisKeys
  readonly #channel: string
  readonly #tenancy: RedisTenancy
  readonly #counters: RedisCounters
  #closed = false
  #closing: Promise<void> | null = null

  constructor(options: RedisStoreOptions) {
    const endpoint = redisEndpoint(options.url)
    if (endpoint === null) {
      // Never echoes the URL: it may carry a password.
      throw new GatewayError(
        ErrorCode.CONFIG_INVALID,
        'redis url must be a redis:// or rediss:// URL',
      )
    }
    this.#log = options.logger.child({ component: 'redis-store', redis: endpoint })
    this.#keys = new RedisKeys(options.prefix)
    this.#channel = `${options.prefix}changes`
    const common = {
      url: options.url,
      connectTimeoutMs: options.connectTimeoutMs ?? 3_000,
      commandTimeoutMs: options.commandTimeoutMs ?? 2_000,
      reconnect: options.reconnect ?? { minMs: 100, maxMs: 5_000 },
    }
    this.#command = new RedisConnection({
      ...common,
      logger: this.#log.child({ connection: 'command' }),
    })
    this.#feed = new RedisChangeFeed({
      ...common,
      channel: this.#channel,
      logger: this.#log.child({ connection: 'feed' }),
    })
    const parts = {
      run: <T>(op: string, fn: (client: Redis) => Promise<T>) => this.#run(op, fn),
      keys: this.#keys,
      channel: this.#channel,
      logger: this.#log,
    }
    this.#tenancy = new RedisTenancy(parts)
    this.#counters = new RedisCounters(parts)
  }

  /**
   * The command connection (fail-fast, no offline queue) and the key prefix, for limiters that
   * share this store's Redis; they must stop using it before the store closes.
   */
  get shared(): { client: Redis; prefix: string } {
    return { client: this.#command.client, prefix: this.#keys.prefix }
  }

  async putRegistration(
    registration: Registration,
    ttlSeconds: number,
    options: PutRegistrationOptions = {},
  ): Promise<void> {
    const stored = normalizeRegistration(registration)
    const ttlMs = ttlToMs(ttlSeconds)
    const workerId = options.workerId ?? null
    // Ownership is the store's to stamp, never the caller's.
    delete stored.workerId
    if (workerId !== null) stored.workerId = workerId
    const { relayKey } = stored
    const path = gatewayPathOf(stored)
    const keys = [this.#key('relay', relayKey)]
    if (path !== null) keys.push(this.#key('alias', path))
    const message = encodeChange({ type: 'registration', relayKey })
    const args = [JSON.stringify(stored), ttlMs, relayKey, this.#keys.of('alias'), path ?? '']
    const written = await this.#run('putRegistration', (c) =>
      runScript(c, PUT_REGISTRATION, keys, [
        ...args,
        this.#channel,
        message,
        // The holder's registration key prefix; empty: the newest write takes the alias.
        options.exclusiveAlias === true ? this.#keys.of('relay') : '',
        workerId ?? '',
        this.#keys.of('owner'),
        this.#keys.of('owned-alias'),
        this.#keys.of('worker'),
        this.#keys.of('worker-relays'),
        Date.now(),
      ]),
    )
    if (written === 0) throw aliasTaken(path)
    if (written === -1) throw relayOwned(relayKey)
    if (written === -2) throw workerDisabled(workerId ?? '')
  }

  async getRegistration(relayKey: string): Promise<Registration | null> {
    return this.#run('getRegistration', async (c) => {
      return this.#decode(await c.get(this.#key('relay', relayKey)), relayKey)
    })
  }

  async resolveRelay(keyOrAlias: string): Promise<Registration | null> {
    return this.#run('resolveRelay', async (c) => {
      const [raw, target] = await c.mget(
        this.#key('relay', keyOrAlias),
        this.#key('alias', keyOrAlias),
      )
      const direct = this.#decode(raw ?? null, keyOrAlias)
      if (direct !== null || target === null || target === undefined) return direct
      const aliased = this.#decode(await c.get(this.#key('relay', target)), target)
      // An alias must agree with its registration: a stale or foreign one resolves to nothing.
      return aliased !== null && gatewayPathOf(aliased) === keyOrAlias ? aliased : null
    })
  }

  async registrationTtl(relayKey: string): Promise<number | null> {
    return this.#run('registrationTtl', async (c) => {
      const ms = await c.pttl(this.#key('relay', relayKey))
      return ms > 0 ? ms : null
    })
  }

  async removeRegistration(
    relayKey: string,
    options: RemoveRegistrationOptions = {},
  ): Promise<boolean> {
    const message = encodeChange({ type: 'registration-removed', relayKey })
    const checked = 'workerId' in options
    const args = [
      relayKey,
      this.#keys.of('alias'),
      this.#channel,
      message,
      checked ? '1' : '0',
      options.workerId ?? '',
      this.#keys.of('owner'),
      this.#keys.of('owned-alias'),
      this.#keys.of('worker-relays'),
    ]
    const removed = await this.#run('removeRegistration', (c) =>
      runScript(c, REMOVE_REGISTRATION, [this.#key('relay', relayKey)], args),
    )
    if (removed === -1) throw relayOwned(relayKey)
    return removed === 1
  }

  async listRegistrations(): Promise<Registration[]> {
    const relayPrefix = this.#keys.of('relay')
    return this.#run('listRegistrations', async (c) => {
      const keys = await scanKeys(c, relayPrefix)
      const values = await mgetChunked(c, keys)
      const out: Registration[] = []
      keys.forEach((key, i) => {
        // Lapsed between SCAN and MGET, or corrupt: skipped either way.
        const reg = this.#decode(values[i] ?? null, key.slice(relayPrefix.length))
        if (reg !== null) out.push(reg)
      })
      return out
    })
  }

  createWorker(record: WorkerRecord): Promise<void> {
    return this.#tenancy.createWorker(record)
  }

  getWorker(workerId: string): Promise<WorkerRecord | null> {
    return this.#tenancy.getWorker(workerId)
  }

  listWorkers(): Promise<WorkerRecord[]> {
    return this.#tenancy.listWorkers()
  }

  disableWorker(workerId: string, now?: number): Promise<DisabledWorker | null> {
    return this.#tenancy.disableWorker(workerId, now ?? Date.now())
  }

  getRelayOwner(relayKey: string): Promise<RelayOwner | null> {
    return this.#tenancy.getRelayOwner(relayKey)
  }

  listWorkerRelays(workerId: string): Promise<string[]> {
    return this.#tenancy.listWorkerRelays(workerId)
  }

  releaseRelay(relayKey: string): Promise<RelayOwner | null> {
    return this.#tenancy.releaseRelay(relayKey)
  }

  async useNonce(scope: string, nonce: string, ttlSeconds: number): Promise<boolean> {
    const key = this.#key('nonce', nonceId(scope, nonce))
    const ttlMs = ttlToMs(ttlSeconds)
    return this.#run('useNonce', async (c) => (await c.set(key, '1', 'PX', ttlMs, 'NX')) === 'OK')
  }

  getTokenState(relayKey: string): Promise<TokenState> {
    return this.#counters.getTokenState(relayKey)
  }

  nextTokenSeq(relayKey: string): Promise<number> {
    return this.#counters.nextTokenSeq(relayKey)
  }

  revokeTokens(relayKey: string, now?: number): Promise<TokenState> {
    return this.#counters.revokeTokens(relayKey, now)
  }

  addUsage(key: string, counters: UsageCounters): Promise<void> {
    return this.#counters.addUsage(key, counters)
  }

  getUsage(key: string): Promise<UsageCounters> {
    return this.#counters.getUsage(key)
  }

  async putProxyReport(report: ProxyReport, ttlSeconds: number): Promise<void> {
    const stored = normalizeProxyReport(report)
    const key = this.#key('proxy', stored.proxyId)
    const ttlMs = ttlToMs(ttlSeconds)
    await this.#run('putProxyReport', (c) => c.set(key, JSON.stringify(stored), 'PX', ttlMs))
  }

  async listProxyReports(): Promise<ProxyReport[]> {
    return this.#run('listProxyReports', async (c) => {
      const values = await mgetChunked(c, await scanKeys(c, this.#keys.of('proxy')))
      const out: ProxyReport[] = []
      for (const raw of values) {
        if (raw === null) continue
        let report: ProxyReport | null
        try {
          report = parseProxyReport(JSON.parse(raw))
        } catch {
          report = null
        }
        if (report === null) this.#log.warn('ignoring a corrupt proxy report')
        else out.push(report)
      }
      return out
    })
  }

  subscribe(listener: ChangeListener): () => void {
    this.#assertOpen()
    return this.#feed.subscribe(listener)
  }

  /** Resolves only when both the command connection and the change feed are live. */
  async ping(): Promise<void> {
    await this.#run('ping', (c) => c.ping())
    try {
      await this.#feed.ping()
    } catch (err) {
      throw this.#mapError('ping', err)
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown()
    return this.#closing
  }

  async #shutdown(): Promise<void> {
    this.#closed = true
    await Promise.all([this.#command.close(), this.#feed.close()])
  }

  async #run<T>(op: string, fn: (client: Redis) => Promise<T>): Promise<T> {
    this.#assertOpen()
    try {
      await this.#command.usable()
      return await fn(this.#command.client)
    } catch (err) {
      throw this.#mapError(op, err)
    }
  }

  #mapError(op: string, err: unknown): GatewayError {
    if (err instanceof GatewayError) return err
    if (this.#closed)
      return new GatewayError(ErrorCode.STORE_CLOSED, 'store is closed', { cause: err })
    return new GatewayError(ErrorCode.STORE_UNAVAILABLE, `redis ${op} failed`, {
      cause: err,
      details: { op },
    })
  }

  #assertOpen(): void {
    if (this.#closed) throw new GatewayError(ErrorCode.STORE_CLOSED, 'store is closed')
  }

  #decode(raw: string | null, relayKey: string): Registration | null {
    if (raw === null) return null
    let value: unknown
    try {
      value = JSON.parse(raw)
    } catch {
      value = undefined
    }
    const registration = parseRegistration(value, relayKey)
    if (registration === null) this.#log.warn({ relayKey }, 'ignoring a corrupt registration')
    return registration
  }

  #key(kind: 'relay' | 'alias' | 'nonce' | 'tokens' | 'usage' | 'proxy', id: string): string {
    return this.#keys.key(kind, id)
  }
}

function encodeChange(change: StoreChange): string {
  return JSON.stringify(change)
}

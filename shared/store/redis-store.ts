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
  StoreChange,
  TokenState,
  UsageCounters,
  WorkerRecord,
} from './gateway-store.js'
import { aliasTaken } from './gateway-store.js'
import { RedisConnection, errorText, redisEndpoint } from './redis-connection.js'
import {
  ADD_USAGE,
  PUT_REGISTRATION,
  REMOVE_REGISTRATION,
  REVOKE_TOKENS,
  runScript,
} from './redis-scripts.js'
import {
  gatewayPathOf,
  nonceId,
  normalizeProxyReport,
  normalizeRegistration,
  parseProxyReport,
  parseRegistration,
  parseStoreChange,
  revocationTime,
  ttlToMs,
  usageEntries,
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

const SCAN_COUNT = 500

/**
 * {@link GatewayStore} on Redis, shared by every gateway process using the same URL and
 * prefix. Multi-key writes run as Lua scripts (atomic, announced in the same step). Calls fail
 * fast with STORE_UNAVAILABLE while Redis is unreachable (nothing is queued behind an outage)
 * and the store reconnects on its own; the change feed uses a second connection.
 */
export class RedisStore implements GatewayStore {
  readonly #command: RedisConnection
  readonly #feed: RedisConnection
  readonly #log: Logger
  readonly #prefix: string
  readonly #channel: string
  readonly #listeners = new Set<ChangeListener>()
  #feedWasLive = false
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
    this.#prefix = options.prefix
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
    this.#feed = new RedisConnection({
      ...common,
      logger: this.#log.child({ connection: 'feed' }),
      onReady: (feed) => this.#subscribeFeed(feed),
    })
    this.#feed.client.on('message', this.#onMessage)
  }

  /**
   * The command connection (fail-fast, no offline queue) and the key prefix, for limiters that
   * share this store's Redis; they must stop using it before the store closes.
   */
  get shared(): { client: Redis; prefix: string } {
    return { client: this.#command.client, prefix: this.#prefix }
  }

  async putRegistration(
    registration: Registration,
    ttlSeconds: number,
    options: PutRegistrationOptions = {},
  ): Promise<void> {
    const stored = normalizeRegistration(registration)
    const ttlMs = ttlToMs(ttlSeconds)
    const { relayKey } = stored
    const path = gatewayPathOf(stored)
    const keys = [this.#key('relay', relayKey)]
    if (path !== null) keys.push(this.#key('alias', path))
    const message = encodeChange({ type: 'registration', relayKey })
    const args = [JSON.stringify(stored), ttlMs, relayKey, this.#key('alias', ''), path ?? '']
    const written = await this.#run('putRegistration', (c) =>
      runScript(c, PUT_REGISTRATION, keys, [
        ...args,
        this.#channel,
        message,
        // The holder's registration key prefix; empty: the newest write takes the alias.
        options.exclusiveAlias === true ? this.#key('relay', '') : '',
      ]),
    )
    if (written === 0) throw aliasTaken(path)
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

  async removeRegistration(relayKey: string): Promise<boolean> {
    const message = encodeChange({ type: 'registration-removed', relayKey })
    const args = [relayKey, this.#key('alias', ''), this.#channel, message]
    return this.#run('removeRegistration', async (c) => {
      return (await runScript(c, REMOVE_REGISTRATION, [this.#key('relay', relayKey)], args)) === 1
    })
  }

  async listRegistrations(): Promise<Registration[]> {
    const relayPrefix = this.#key('relay', '')
    const pattern = `${relayPrefix.replace(/[*?[\]\\]/g, '\\$&')}*`
    return this.#run('listRegistrations', async (c) => {
      const keys = new Set<string>()
      let cursor = '0'
      do {
        const [next, batch] = await c.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT)
        cursor = next
        for (const key of batch) keys.add(key)
      } while (cursor !== '0')
      const all = [...keys]
      const out: Registration[] = []
      for (let i = 0; i < all.length; i += SCAN_COUNT) {
        const chunk = all.slice(i, i + SCAN_COUNT)
        const values = chunk.length === 0 ? [] : await c.mget(...chunk)
        chunk.forEach((key, j) => {
          // Lapsed between SCAN and MGET, or corrupt: skipped either way.
          const reg = this.#decode(values[j] ?? null, key.slice(relayPrefix.length))
          if (reg !== null) out.push(reg)
        })
      }
      return out
    })
  }

  // Tenancy (issue 15): the Redis side lands in the next commit; the contract is MemoryStore's.
  async createWorker(_record: WorkerRecord): Promise<void> {
    throw notYet()
  }

  async getWorker(_workerId: string): Promise<WorkerRecord | null> {
    throw notYet()
  }

  async listWorkers(): Promise<WorkerRecord[]> {
    throw notYet()
  }

  async disableWorker(_workerId: string, _now?: number): Promise<DisabledWorker | null> {
    throw notYet()
  }

  async getRelayOwner(_relayKey: string): Promise<RelayOwner | null> {
    throw notYet()
  }

  async listWorkerRelays(_workerId: string): Promise<string[]> {
    throw notYet()
  }

  async releaseRelay(_relayKey: string): Promise<RelayOwner | null> {
    throw notYet()
  }

  async useNonce(scope: string, nonce: string, ttlSeconds: number): Promise<boolean> {
    const key = this.#key('nonce', nonceId(scope, nonce))
    const ttlMs = ttlToMs(ttlSeconds)
    return this.#run('useNonce', async (c) => (await c.set(key, '1', 'PX', ttlMs, 'NX')) === 'OK')
  }

  async getTokenState(relayKey: string): Promise<TokenState> {
    return this.#run('getTokenState', async (c) => {
      const [seq, minSeq, revokedAt] = await c.hmget(
        this.#key('tokens', relayKey),
        'seq',
        'minSeq',
        'revokedAt',
      )
      const count = (value: string | null | undefined): number => {
        const n = Number(value ?? 0)
        if (Number.isSafeInteger(n) && n >= 0) return n
        this.#log.warn({ relayKey }, 'ignoring a corrupt token state field in redis')
        return 0
      }
      return { seq: count(seq), minSeq: count(minSeq), revokedAt: count(revokedAt) }
    })
  }

  async nextTokenSeq(relayKey: string): Promise<number> {
    return this.#run('nextTokenSeq', (c) => c.hincrby(this.#key('tokens', relayKey), 'seq', 1))
  }

  async revokeTokens(relayKey: string, now?: number): Promise<TokenState> {
    const at = revocationTime(0, now ?? Date.now())
    return this.#run('revokeTokens', async (c) => {
      const reply = await runScript(
        c,
        REVOKE_TOKENS,
        [this.#key('tokens', relayKey)],
        [at, relayKey, this.#channel],
      )
      if (!Array.isArray(reply) || reply.length !== 3 || !reply.every(Number.isSafeInteger)) {
        throw new Error('unexpected reply from the revoke script')
      }
      const [seq, minSeq, revokedAt] = reply as [number, number, number]
      return { seq, minSeq, revokedAt }
    })
  }

  async addUsage(key: string, counters: UsageCounters): Promise<void> {
    const args = usageEntries(counters).flat()
    await this.#run('addUsage', async (c) => {
      if (args.length > 0) await runScript(c, ADD_USAGE, [this.#key('usage', key)], args)
    })
  }

  async getUsage(key: string): Promise<UsageCounters> {
    return this.#run('getUsage', async (c) => {
      const raw = await c.hgetall(this.#key('usage', key))
      const entries: Array<[string, number]> = []
      for (const [name, value] of Object.entries(raw)) {
        const n = Number(value)
        if (Number.isSafeInteger(n)) entries.push([name, n])
        else this.#log.warn({ usageKey: key, counter: name }, 'ignoring a corrupt usage counter')
      }
      return Object.fromEntries(entries)
    })
  }

  async putProxyReport(report: ProxyReport, ttlSeconds: number): Promise<void> {
    const stored = normalizeProxyReport(report)
    const key = this.#key('proxy', stored.proxyId)
    const ttlMs = ttlToMs(ttlSeconds)
    await this.#run('putProxyReport', (c) => c.set(key, JSON.stringify(stored), 'PX', ttlMs))
  }

  async listProxyReports(): Promise<ProxyReport[]> {
    const keys = await this.#scan('listProxyReports', this.#key('proxy', ''))
    return this.#run('listProxyReports', async (c) => {
      const values = keys.length === 0 ? [] : await c.mget(...keys)
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
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  /** Resolves only when both the command connection and the change feed are live. */
  async ping(): Promise<void> {
    await this.#run('ping', (c) => c.ping())
    try {
      await this.#feed.usable()
      await this.#feed.client.ping()
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
    this.#listeners.clear()
    await Promise.all([this.#command.close(), this.#feed.close()])
    this.#feed.client.off('message', this.#onMessage)
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

  #subscribeFeed(feed: RedisConnection): void {
    feed.client.subscribe(this.#channel).then(
      () => {
        feed.markLive()
        // Pub/sub keeps nothing for absent subscribers: after a gap, say so.
        if (this.#feedWasLive) this.#notify({ type: 'resync' })
        this.#feedWasLive = true
      },
      // The next reconnect subscribes again; until then ping() reports the feed down.
      (err: unknown) => this.#log.warn({ error: errorText(err) }, 'change feed subscribe failed'),
    )
  }

  readonly #onMessage = (channel: string, message: string): void => {
    if (channel !== this.#channel) return
    let change: StoreChange | null
    try {
      change = parseStoreChange(JSON.parse(message))
    } catch {
      change = null
    }
    if (change === null) {
      this.#log.warn('ignoring a malformed change-feed message')
      return
    }
    this.#notify(change)
  }

  #notify(change: StoreChange): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(change)
      } catch (err) {
        this.#log.error({ err, change: change.type }, 'store change listener threw')
      }
    }
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

  // Proxy reports are few (one per proxy process): one SCAN pass and one MGET.
  async #scan(op: string, prefix: string): Promise<string[]> {
    const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`
    return this.#run(op, async (c) => {
      const keys = new Set<string>()
      let cursor = '0'
      do {
        const [next, batch] = await c.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT)
        cursor = next
        for (const key of batch) keys.add(key)
      } while (cursor !== '0')
      return [...keys]
    })
  }

  #key(kind: 'relay' | 'alias' | 'nonce' | 'tokens' | 'usage' | 'proxy', id: string): string {
    return `${this.#prefix}${kind}:${id}`
  }
}

function notYet(): GatewayError {
  return new GatewayError(ErrorCode.STORE_UNAVAILABLE, 'worker accounts are not on RedisStore yet')
}

function encodeChange(change: StoreChange): string {
  return JSON.stringify(change)
}

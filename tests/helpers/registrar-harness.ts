import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { RateLimiterMemory } from 'rate-limiter-flexible'
import { signDelete, signRegistration } from '../../shared/auth/registration-signature.js'
import { createLogger } from '../../shared/log/create-logger.js'
import { SignedHeader } from '../../shared/registrar-api/registrar-capabilities.js'
import { newNonce, signRequest } from '../../shared/registrar-api/signed-request.js'
import type { SignedActionName } from '../../shared/registrar-api/signed-request.js'
import type { GatewayStore } from '../../shared/store/gateway-store.js'
import { MemoryStore } from '../../shared/store/memory-store.js'
import { RedisStore } from '../../shared/store/redis-store.js'
import type { RequestRateLimiter } from '../../registrar/rate-limit-hook.js'
import { RegistrarServer } from '../../registrar/registrar-server.js'
import type { RegistrarServerOptions } from '../../registrar/registrar-server.js'
import { createLogSink } from './log-sink.js'
import type { LogSink } from './log-sink.js'
import type { TestRedis } from './redis-server.js'
import { vectors } from './vectors.js'

export const SECRET = vectors.secret
/** The vectors' issuedAt: registrar clocks start one second after it. */
export const T0 = 1_764_000_000_000

/** A clock tests move by hand; registrar and MemoryStore share it. */
export class ManualClock {
  t: number
  constructor(t = T0 + 1_000) {
    this.t = t
  }
  readonly now = (): number => this.t
  advance(ms: number): void {
    this.t += ms
  }
}

/** Makes stores of one kind for a suite; `close` closes every store it made. */
export interface StoreKind {
  readonly name: 'MemoryStore' | 'RedisStore'
  /** A fresh, empty store (Redis: a new key prefix). */
  create(clock: ManualClock): GatewayStore
  /** Another instance over the same data as `store` (Redis only). */
  sibling?(store: GatewayStore): GatewayStore
  /** Whether the store follows the injected clock (MemoryStore) or real time (Redis). */
  readonly followsClock: boolean
  close(): Promise<void>
}

export function memoryStores(): StoreKind {
  const made: GatewayStore[] = []
  return {
    name: 'MemoryStore',
    followsClock: true,
    create(clock) {
      const store = new MemoryStore({ now: clock.now })
      made.push(store)
      return store
    },
    async close() {
      await Promise.all(made.splice(0).map((s) => s.close()))
    },
  }
}

export function redisStores(redis: TestRedis): StoreKind {
  const made: GatewayStore[] = []
  const prefixes = new Map<GatewayStore, string>()
  const open = (prefix: string): GatewayStore => {
    const store = new RedisStore({ url: redis.url, prefix, logger: pino({ level: 'silent' }) })
    made.push(store)
    prefixes.set(store, prefix)
    return store
  }
  return {
    name: 'RedisStore',
    followsClock: false,
    create: () => open(`test:${randomBytes(6).toString('hex')}:`),
    sibling(store) {
      const prefix = prefixes.get(store)
      if (prefix === undefined) throw new Error('not a store of this kind')
      return open(prefix)
    },
    async close() {
      await Promise.all(made.splice(0).map((s) => s.close()))
    },
  }
}

/** Settings every test registrar starts from. */
export const BASE_OPTIONS: RegistrarServerOptions = {
  host: '127.0.0.1',
  port: 0,
  secret: SECRET,
  registrationTtlSeconds: 300,
  maxSkewSeconds: 300,
  legacyDelete: true,
  bodyLimitBytes: 256 * 1024,
  tokenDefaultTtlSeconds: 3600,
  tokenMaxTtlSeconds: 7 * 24 * 3600,
  trustedProxies: ['127.0.0.1'],
}

/** A registrar under test and what it was built from. */
export interface RegistrarHarness {
  server: RegistrarServer
  store: GatewayStore
  registry: Registry
  sink: LogSink
  clock: ManualClock
  close(): Promise<void>
}

export function startRegistrar(opts: {
  store: GatewayStore
  clock: ManualClock
  options?: Partial<RegistrarServerOptions>
  rateLimiter?: RequestRateLimiter
}): RegistrarHarness {
  const sink = createLogSink()
  const registry = new Registry()
  const server = new RegistrarServer(
    { ...BASE_OPTIONS, ...opts.options },
    {
      logger: createLogger({ level: 'info', name: 'registrar', destination: sink.stream }),
      registry,
      store: opts.store,
      rateLimiter: opts.rateLimiter ?? new RateLimiterMemory({ points: 10_000, duration: 60 }),
      now: opts.clock.now,
    },
  )
  return {
    server,
    store: opts.store,
    registry,
    sink,
    clock: opts.clock,
    close: () => server.close(),
  }
}

/** 64 random lowercase hex characters. */
export function hexKey(): string {
  return randomBytes(32).toString('hex')
}

/** A registration `R` as a legacy worker builds it, issued now by `clock`. */
export function makeRegistration(
  clock: ManualClock,
  fields: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    relayKey: hexKey(),
    nonce: newNonce(),
    issuedAt: clock.now(),
    peers: [hexKey()],
    metadata: { name: 'test relay' },
    ...fields,
  }
}

/** `{ registration, signature }` for `POST /api/relays`. */
export function registrationBody(registration: Record<string, unknown>, secret = SECRET) {
  return { registration, signature: signRegistration(secret, registration) }
}

/**
 * Headers of a replay-proof DELETE (signDelete) or signed GET; with `workerId`, signed by that
 * worker account (its id in the signed object and in `x-worker-id`).
 */
export function signedHeaders(
  action: 'get' | 'delete',
  relayKey: string,
  clock: ManualClock,
  opts: { nonce?: string; issuedAt?: number; secret?: string; workerId?: string } = {},
): Record<string, string> {
  const nonce = opts.nonce ?? newNonce()
  const issuedAt = opts.issuedAt ?? clock.now()
  const secret = opts.secret ?? SECRET
  const { workerId } = opts
  let signature: string
  if (workerId !== undefined) {
    signature = signRequest(secret, { relayKey, action, nonce, issuedAt, workerId })
  } else {
    signature =
      action === 'delete'
        ? signDelete(secret, { relayKey, nonce, issuedAt })
        : signRequest(secret, { relayKey, action, nonce, issuedAt })
  }
  return {
    [SignedHeader.NONCE]: nonce,
    [SignedHeader.ISSUED_AT]: String(issuedAt),
    [SignedHeader.SIGNATURE]: signature,
    ...(workerId === undefined ? {} : { [SignedHeader.WORKER_ID]: workerId }),
  }
}

/** A signed token request body. */
export function tokenBody(
  action: SignedActionName,
  relayKey: string,
  clock: ManualClock,
  extra: Record<string, unknown> = {},
  secret = SECRET,
): Record<string, unknown> {
  const fields = { relayKey, action, nonce: newNonce(), issuedAt: clock.now(), ...extra }
  return { ...fields, signature: signRequest(secret, fields) }
}

/** Polls `check` until it returns true; rejects after `timeoutMs`. */
export async function eventually(
  check: () => Promise<boolean>,
  timeoutMs = 5_000,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/** The value of one sample of a metric in the registry (0 when absent). */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = registry.getSingleMetric(name)
  if (metric === undefined) return 0
  const { values } = await metric.get()
  const match = values.find((v) =>
    Object.entries(labels).every(([k, value]) => String(v.labels[k]) === value),
  )
  return match?.value ?? 0
}

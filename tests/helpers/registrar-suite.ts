import { expect } from 'chai'
import type { InjectOptions } from 'fastify'
import type { GatewayStore } from '../../shared/store/gateway-store.js'
import type { RequestRateLimiter } from '../../registrar/rate-limit-hook.js'
import type { RegistrarServerOptions } from '../../registrar/registrar-server.js'
import {
  ManualClock,
  makeRegistration,
  memoryStores,
  redisStores,
  registrationBody,
  startRegistrar,
} from './registrar-harness.js'
import type { RegistrarHarness, StoreKind } from './registrar-harness.js'
import { startRedis } from './redis-server.js'
import type { TestRedis } from './redis-server.js'

/** An answer of the registrar, its body parsed. */
export interface Answer {
  status: number
  headers: Record<string, unknown>
  body: Record<string, unknown>
}

/** One request through fastify's `inject`. */
export async function call(h: RegistrarHarness, request: InjectOptions): Promise<Answer> {
  const res = await h.server.inject(request)
  let body: Record<string, unknown>
  try {
    body = JSON.parse(res.body) as Record<string, unknown>
  } catch {
    body = { raw: res.body }
  }
  return { status: res.statusCode, headers: res.headers, body }
}

/** `POST /api/relays` with `payload`. */
export function register(h: RegistrarHarness, payload: unknown): Promise<Answer> {
  return call(h, {
    method: 'POST',
    url: '/api/relays',
    payload: payload as Record<string, unknown>,
  })
}

export function relayUrl(relayKey: string, suffix = ''): string {
  return `/api/relays/${relayKey}${suffix}`
}

/** Asserts an error answer by status and code, never by message. */
export function expectRefused(answer: Answer, status: number, code: string): void {
  expect(answer.status, JSON.stringify(answer.body)).to.equal(status)
  expect(answer.body.code).to.equal(code)
  expect(answer.body.error).to.be.a('string')
}

/** Full name of a registrar metric. */
export const metric = (name: string): string => `hypertuna_gateway_registrar_${name}`

/** What a suite body gets: the store kind under test and registrar factories on it. */
export interface StoreSuite {
  readonly kindName: 'MemoryStore' | 'RedisStore'
  readonly kind: StoreKind
  readonly clock: ManualClock
  /** The suite's redis-server (RedisStore suites only). */
  readonly redis: TestRedis | undefined
  /** A registrar on a fresh store of the kind; closed after the test. */
  start(
    options?: Partial<RegistrarServerOptions>,
    extra?: { store?: GatewayStore; rateLimiter?: RequestRateLimiter },
  ): RegistrarHarness
  /** Registers a fresh relay (fields override the defaults) and asserts 200. */
  registered(
    h: RegistrarHarness,
    fields?: Record<string, unknown>,
  ): Promise<{ relayKey: string } & Record<string, unknown>>
}

/**
 * Runs `body` once per store kind: on MemoryStore and on RedisStore over a redis-server the
 * suite starts and stops. Every registrar and store a test makes is closed after it.
 */
export function forEachStore(title: string, body: (suite: StoreSuite) => void): void {
  for (const kindName of ['MemoryStore', 'RedisStore'] as const) {
    describe(`${title} on ${kindName}`, function () {
      let redis: TestRedis | undefined
      let kind: StoreKind | undefined
      let clock = new ManualClock()
      const running: RegistrarHarness[] = []

      before(async () => {
        if (kindName === 'RedisStore') redis = await startRedis()
      })
      after(async () => {
        await redis?.stop()
      })
      beforeEach(() => {
        kind = redis === undefined ? memoryStores() : redisStores(redis)
        clock = new ManualClock()
      })
      afterEach(async () => {
        await Promise.all(running.splice(0).map((h) => h.close()))
        await kind?.close()
      })

      const suite: StoreSuite = {
        kindName,
        get kind() {
          if (kind === undefined) throw new Error('no store kind outside a test')
          return kind
        },
        get clock() {
          return clock
        },
        get redis() {
          return redis
        },
        start(options = {}, extra = {}) {
          const store = extra.store ?? suite.kind.create(clock)
          const h = startRegistrar({ store, clock, options, rateLimiter: extra.rateLimiter })
          running.push(h)
          return h
        },
        async registered(h, fields = {}) {
          const registration = makeRegistration(clock, fields)
          const answer = await register(h, registrationBody(registration))
          expect(answer.status, JSON.stringify(answer.body)).to.equal(200)
          return registration as { relayKey: string } & Record<string, unknown>
        },
      }
      body(suite)
    })
  }
}

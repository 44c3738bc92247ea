import { expect } from 'chai'
import { pino } from 'pino'
import { signLegacyDelete } from '../../shared/auth/registration-signature.js'
import { ErrorCode, GatewayError } from '../../shared/errors.js'
import { SignedAction } from '../../shared/registrar-api/signed-request.js'
import { MemoryStore } from '../../shared/store/memory-store.js'
import { RedisStore } from '../../shared/store/redis-store.js'
import { createRateLimiter } from '../../registrar/create-rate-limiter.js'
import type { OwnedRateLimiter } from '../../registrar/create-rate-limiter.js'
import {
  ManualClock,
  SECRET,
  eventually,
  hexKey,
  makeRegistration,
  registrationBody,
  signedHeaders,
  startRegistrar,
  tokenBody,
} from '../helpers/registrar-harness.js'
import type { RegistrarHarness } from '../helpers/registrar-harness.js'
import { startRedis } from '../helpers/redis-server.js'
import type { TestRedis } from '../helpers/redis-server.js'

interface Answer {
  status: number
  retryAfter: string | null
  body: Record<string, unknown>
}

/** One real HTTP request to a listening registrar. */
async function http(
  h: RegistrarHarness,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const base = h.server.address?.url ?? ''
  const res = await fetch(new URL(path, base), {
    method,
    headers: {
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  })
  const text = await res.text()
  let body: Record<string, unknown>
  try {
    body = JSON.parse(text) as Record<string, unknown>
  } catch {
    body = { raw: text }
  }
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body }
}

function expectUnavailable(answer: Answer, what: string): void {
  expect(answer.status, what).to.equal(503)
  expect(answer.body.code, what).to.equal('store_unavailable')
  expect(Number(answer.retryAfter), what).to.be.greaterThan(0)
}

describe('registrar over a Redis outage', function () {
  let redis: TestRedis
  let store: RedisStore
  let limiter: OwnedRateLimiter
  let clock: ManualClock
  // One registrar limits in memory (so requests reach the store), one in Redis like main.ts.
  let viaStore: RegistrarHarness
  let viaLimiter: RegistrarHarness

  before(async () => {
    redis = await startRedis()
    clock = new ManualClock()
    const logger = pino({ level: 'silent' })
    const prefix = `outage:${hexKey().slice(0, 8)}:`
    store = new RedisStore({
      url: redis.url,
      prefix,
      logger,
      reconnect: { minMs: 50, maxMs: 300 },
    })
    limiter = createRateLimiter({
      pointsPerMinute: 1000,
      redisUrl: redis.url,
      redisPrefix: prefix,
      logger,
    })
    viaStore = startRegistrar({ store, clock })
    viaLimiter = startRegistrar({ store, clock, rateLimiter: limiter.limiter })
    await Promise.all([viaStore.server.listen(), viaLimiter.server.listen()])
  })

  after(async () => {
    await viaStore?.close()
    await viaLimiter?.close()
    await limiter?.close()
    await store?.close()
    await redis?.stop()
  })

  it('answers 503 with Retry-After while Redis is down, then serves normally', async () => {
    const before = makeRegistration(clock)
    expect(
      (await http(viaStore, 'POST', '/api/relays', { body: registrationBody(before) })).status,
    ).to.equal(200)
    expect((await http(viaLimiter, 'GET', '/ready')).status).to.equal(200)
    const relayKey = before.relayKey as string

    await redis.kill()

    const during = registrationBody(makeRegistration(clock))
    const duringKey = during.registration.relayKey as string
    expectUnavailable(await http(viaStore, 'POST', '/api/relays', { body: during }), 'register')
    expectUnavailable(await http(viaStore, 'GET', '/ready'), 'ready')
    expectUnavailable(
      await http(viaStore, 'DELETE', `/api/relays/${relayKey}`, {
        headers: signedHeaders('delete', relayKey, clock),
      }),
      'signed delete',
    )
    expectUnavailable(
      await http(viaStore, 'DELETE', `/api/relays/${relayKey}`, {
        headers: { 'x-signature': signLegacyDelete(SECRET, relayKey) },
      }),
      'legacy delete',
    )
    expectUnavailable(
      await http(viaStore, 'GET', `/api/relays/${relayKey}`, {
        headers: signedHeaders('get', relayKey, clock),
      }),
      'get',
    )
    expectUnavailable(
      await http(viaStore, 'POST', `/api/relays/${relayKey}/tokens`, {
        body: tokenBody(SignedAction.TOKEN_ISSUE, relayKey, clock),
      }),
      'token issue',
    )
    expectUnavailable(
      await http(viaStore, 'POST', `/api/relays/${relayKey}/tokens/revoke`, {
        body: tokenBody(SignedAction.TOKEN_REVOKE, relayKey, clock),
      }),
      'token revoke',
    )
    expectUnavailable(
      await http(viaLimiter, 'POST', '/api/relays', { body: during }),
      'limited register',
    )
    // The process itself stays up and observable.
    for (const h of [viaStore, viaLimiter]) {
      expect((await http(h, 'GET', '/health')).status).to.equal(200)
      expect((await http(h, 'GET', '/metrics')).status).to.equal(200)
    }

    await redis.restart()
    await eventually(async () => (await http(viaStore, 'GET', '/ready')).status === 200, 15_000)
    await eventually(
      async () => (await http(viaLimiter, 'GET', '/api/capabilities')).status === 200,
      15_000,
    )

    // Nothing of the refused registration was written: not the registration, not its nonce.
    expect(await store.getRegistration(duringKey)).to.equal(null)
    expect((await http(viaLimiter, 'POST', '/api/relays', { body: during })).status).to.equal(200)
    const read = await http(viaStore, 'GET', `/api/relays/${duringKey}`, {
      headers: signedHeaders('get', duringKey, clock),
    })
    expect(read.status).to.equal(200)
    expect((read.body.registration as { peers: string[] }).peers).to.deep.equal(
      during.registration.peers,
    )
    const issued = await http(viaStore, 'POST', `/api/relays/${duringKey}/tokens`, {
      body: tokenBody(SignedAction.TOKEN_ISSUE, duringKey, clock),
    })
    expect(issued.status).to.equal(200)
  })
})

describe('registrar with a store failing mid-request', () => {
  it('answers 503 and leaves no registration behind', async () => {
    const clock = new ManualClock()
    const store = new MemoryStore({ now: clock.now })
    const h = startRegistrar({ store, clock })
    try {
      const put = store.putRegistration.bind(store)
      let failNext = true
      store.putRegistration = async (registration, ttl) => {
        if (!failNext) return put(registration, ttl)
        failNext = false
        throw new GatewayError(ErrorCode.STORE_UNAVAILABLE, 'injected outage')
      }
      const registration = makeRegistration(clock, { metadata: { gatewayPath: 'half-written' } })
      const first = await h.server.inject({
        method: 'POST',
        url: '/api/relays',
        payload: registrationBody(registration),
      })
      expect(first.statusCode).to.equal(503)
      expect(first.headers['retry-after']).to.equal('5')
      expect((JSON.parse(first.body) as { code: string }).code).to.equal('store_unavailable')
      const relayKey = registration.relayKey as string
      expect(await store.getRegistration(relayKey)).to.equal(null)
      expect(await store.resolveRelay('half-written')).to.equal(null)
      // The worker's next attempt (a new nonce, as every registration has) goes through.
      const retry = makeRegistration(clock, { relayKey, metadata: { gatewayPath: 'half-written' } })
      const second = await h.server.inject({
        method: 'POST',
        url: '/api/relays',
        payload: registrationBody(retry),
      })
      expect(second.statusCode).to.equal(200)
      expect((await store.resolveRelay('half-written'))?.relayKey).to.equal(relayKey)
    } finally {
      await h.close()
      await store.close()
    }
  })
})

import { randomBytes, randomInt } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { expect } from 'chai'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import { ErrorCode } from '../../shared/errors.js'
import type { Registration } from '../../shared/store/gateway-store.js'
import { RedisStore } from '../../shared/store/redis-store.js'
import { createLogSink } from '../helpers/log-sink.js'
import type { LogSink } from '../helpers/log-sink.js'
import { startRedis } from '../helpers/redis-server.js'
import type { TestRedis } from '../helpers/redis-server.js'
import { recordChanges } from '../helpers/store-changes.js'
import { succeeds, waitUntil } from '../helpers/wait-until.js'

const PASSWORD = 'outage-test-' + randomBytes(8).toString('hex')
const FAST_FAIL_MS = 500
const hex = (bytes: number) => randomBytes(bytes).toString('hex')

function registration(relayKey: string, gatewayPath: string): Registration {
  const now = Date.now()
  return {
    relayKey,
    peers: [hex(32)],
    metadata: { gatewayPath },
    nonce: null,
    issuedAt: null,
    registeredAt: now,
    expiresAt: now + 60_000,
  }
}

/** Time to settle and the rejection, of a call expected to fail. */
async function timedFailure(call: () => Promise<unknown>): Promise<{ ms: number; err: unknown }> {
  const start = performance.now()
  const err = await call().then(
    () => expect.fail('expected the call to fail while Redis is down'),
    (e: unknown) => e,
  )
  return { ms: performance.now() - start, err }
}

describe('RedisStore through a Redis outage', () => {
  let redis: TestRedis
  let sink: LogSink
  let prefix: string
  const stores: RedisStore[] = []
  const admins: Redis[] = []

  const open = () => {
    const store = new RedisStore({
      url: redis.url,
      prefix,
      logger: pino({ level: 'debug' }, sink.stream),
      reconnect: { minMs: 50, maxMs: 200 },
    })
    stores.push(store)
    return store
  }

  const admin = () => {
    const client = new Redis(redis.url)
    admins.push(client)
    return client
  }

  before(async () => {
    redis = await startRedis({ password: PASSWORD })
  })

  beforeEach(() => {
    sink = createLogSink()
    prefix = `outage:${hex(6)}:`
  })

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()))
    await Promise.all(admins.splice(0).map((c) => c.quit()))
  })

  after(async () => {
    await redis?.stop()
  })

  it('fails fast while Redis is down, then recovers by itself, change feed included', async () => {
    const writer = open()
    const reader = open()
    await Promise.all([writer.ping(), reader.ping()])
    const relay = hex(32)
    const gap = recordChanges(reader)
    await writer.putRegistration(registration(relay, 'before'), 60)
    await gap.waitForCount(1)
    await redis.kill()
    const calls: Array<() => Promise<unknown>> = [
      () => writer.getRegistration(relay),
      () => writer.resolveRelay('before'),
      () => writer.putRegistration(registration(relay, 'during'), 60),
      () => writer.removeRegistration(relay),
      () => writer.listRegistrations(),
      () => writer.useNonce('s', hex(8), 60),
      () => writer.nextTokenSeq(relay),
      () => writer.revokeTokens(relay),
      () => writer.addUsage('k', { n: 1 }),
      () => writer.ping(),
      () => reader.ping(),
    ]
    for (const call of calls) {
      const { ms, err } = await timedFailure(call)
      expect(err).to.have.property('code', ErrorCode.STORE_UNAVAILABLE)
      expect(err).to.have.property('cause').that.is.instanceOf(Error)
      expect(ms).to.be.below(FAST_FAIL_MS)
    }
    await sink.waitFor((l) => l.msg === 'redis down, reconnecting' && l.level === 40)

    await redis.restart()
    await waitUntil(async () => (await succeeds(writer.ping())) && succeeds(reader.ping()), {
      timeoutMs: 10_000,
      what: 'both stores recovered',
    })
    // The feed was down: listeners are told to drop what they cached.
    expect(await gap.waitForCount(2)).to.deep.equal([
      { type: 'registration', relayKey: relay },
      { type: 'resync' },
    ])
    gap.stop()
    // SIGKILL without persistence: the data is gone, the stores work again.
    expect(await writer.getRegistration(relay)).to.equal(null)
    const log = recordChanges(reader)
    await writer.putRegistration(registration(relay, 'after'), 60)
    const state = await writer.revokeTokens(relay, 1)
    expect(await log.waitForCount(2)).to.deep.equal([
      { type: 'registration', relayKey: relay },
      { type: 'tokens-revoked', relayKey: relay, state },
    ])
    expect(await reader.resolveRelay('after')).to.have.property('relayKey', relay)
    await sink.waitFor((l) => l.msg === 'redis connection restored')
    expect(sink.text()).not.to.contain(PASSWORD)
  })

  it('rejects calls during startup quickly when Redis is not there', async () => {
    await redis.stop()
    try {
      const store = open()
      const { ms, err } = await timedFailure(() => store.getRegistration(hex(32)))
      expect(err).to.have.property('code', ErrorCode.STORE_UNAVAILABLE)
      expect(ms).to.be.below(FAST_FAIL_MS)
    } finally {
      await redis.restart()
    }
  })

  it('never leaves half a write behind when connections drop mid-burst', async function () {
    this.timeout(30_000)
    const store = open()
    const killer = admin()
    await store.ping()
    const relays = Array.from({ length: 20 }, () => hex(32))
    // Where the cut lands is luck; a few cuts make a non-atomic write all but sure to show.
    for (let cut = 0; cut < 4; cut++) {
      let ok = 0
      let failed = 0
      // One writer per relay, each moving its relay's alias on every put (one key deleted, two
      // set): when the connection drops, writes are caught at every stage.
      const writers = relays.map(async (relay, i) => {
        for (let n = 0; failed === 0 && n < 10_000; n++) {
          try {
            await store.putRegistration(registration(relay, `p${i}-${n % 2}`), 60)
            ok++
          } catch (err) {
            if ((err as { code?: unknown }).code !== ErrorCode.STORE_UNAVAILABLE) throw err
            failed++
          }
        }
      })
      await waitUntil(() => ok >= 100, { timeoutMs: 10_000, intervalMs: 1 })
      // A random number of event-loop turns, so the cut does not always land at the same step.
      for (let turns = randomInt(16); turns > 0; turns--) await new Promise(setImmediate)
      await killer.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
      await Promise.all(writers)
      expect(failed, 'writes cut off by the dropped connection').to.be.above(0)
      await waitUntil(() => succeeds(store.ping()), { timeoutMs: 10_000, what: 'recovery' })
      await expectConsistent(killer, store, relays)
    }
  })

  /** Straight from Redis: every alias has its registration, every registration its alias. */
  async function expectConsistent(client: Redis, store: RedisStore, relays: string[]) {
    const [relayKeys, aliasKeys] = [await keys(client, 'relay'), await keys(client, 'alias')]
    expect(relayKeys).to.have.length(relays.length)
    expect(aliasKeys).to.have.length(relays.length)
    for (const aliasKey of aliasKeys) {
      const owner = await client.get(aliasKey)
      const raw = await client.get(`${prefix}relay:${owner}`)
      expect(raw, `registration behind ${aliasKey}`).to.be.a('string')
      const reg = JSON.parse(raw as string) as Registration
      expect(`${prefix}alias:${reg.metadata.gatewayPath}`).to.equal(aliasKey)
    }
    for (const relay of relays) {
      const reg = await store.getRegistration(relay)
      expect(await store.resolveRelay(reg?.metadata.gatewayPath as string)).to.deep.equal(reg)
    }
  }

  async function keys(client: Redis, kind: string): Promise<string[]> {
    const found: string[] = []
    let cursor = '0'
    do {
      const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}${kind}:*`)
      cursor = next
      found.push(...batch)
    } while (cursor !== '0')
    return [...new Set(found)]
  }
})

import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { createRateLimiter } from '../../registrar/create-rate-limiter.js'
import type { OwnedRateLimiter } from '../../registrar/create-rate-limiter.js'
import { RedisStore } from '../../shared/store/redis-store.js'
import { createLogSink } from '../helpers/log-sink.js'
import { startRedis } from '../helpers/redis-server.js'
import type { TestRedis } from '../helpers/redis-server.js'
import { succeeds, waitUntil } from '../helpers/wait-until.js'

// The registrar's API stayed 503 one reconnect step after Redis was back (chaos: 4.3 s for
// 2.5 s of Redis down). A restarting Redis refuses connects, and those are retried at the
// shortest delay, so the backoff reached during a long outage no longer delays the return.
describe('Redis clients come back as soon as a restarted Redis listens', function () {
  this.timeout(30_000)
  let redis: TestRedis
  let store: RedisStore
  let limiter: OwnedRateLimiter

  before(async () => {
    redis = await startRedis()
  })

  after(async () => {
    await limiter?.close()
    await store?.close()
    await redis?.stop()
  })

  it('reconnects within a short step of the restart, whatever backoff the outage reached', async () => {
    const sink = createLogSink()
    const prefix = `reconnect:${randomBytes(4).toString('hex')}:`
    // Doubling from 100 ms, ten attempts would reach a 51 s window: far beyond the bound below.
    store = new RedisStore({
      url: redis.url,
      prefix,
      logger: pino({ level: 'debug' }, sink.stream),
      reconnect: { minMs: 100, maxMs: 60_000 },
    })
    limiter = createRateLimiter({
      pointsPerMinute: 1_000,
      redisUrl: redis.url,
      redisPrefix: prefix,
      logger: pino({ level: 'silent' }),
    })
    await store.ping()
    await limiter.limiter.consume('before')
    await redis.kill()
    await sink.waitFor(
      (l) => l.msg === 'redis down, reconnecting' && (l.attempt as number) >= 10,
      20_000,
    )
    await redis.restart()
    const restarted = Date.now()
    await waitUntil(() => succeeds(store.ping()), { timeoutMs: 5_000, what: 'store back' })
    await waitUntil(() => succeeds(limiter.limiter.consume('after')), {
      timeoutMs: 5_000,
      what: 'rate limiter back',
    })
    // Loose for a loaded machine, yet far below the step the doubling backoff had reached.
    expect(Date.now() - restarted).to.be.below(5_000)
  })
})

import { expect } from 'chai'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { RedisStore } from '../../shared/store/redis-store.js'
import { SenderLimits } from '../../proxy/sender-limits.js'
import type { SenderAdmission, SenderLimitsConfig } from '../../proxy/sender-limits.js'
import { startRedis } from '../helpers/redis-server.js'
import type { TestRedis } from '../helpers/redis-server.js'
import { waitUntil } from '../helpers/wait-until.js'

const logger = pino({ level: 'silent' })
const CONFIG: SenderLimitsConfig = {
  maxSessionsPerToken: 1000,
  maxSessionsPerIp: 2,
  maxSessionsPerPubkey: 64,
  sessionOpensPerIpPerMinute: 1000,
  pubkeyMessagesPerSecond: 5,
  sessionLeaseMs: 30_000,
}

async function fallbacks(registry: Registry): Promise<number> {
  const m = await registry
    .getSingleMetric('hypertuna_gateway_proxy_limit_store_fallbacks_total')
    ?.get()
  return (m?.values ?? []).reduce((sum, v) => sum + v.value, 0)
}

describe('SenderLimits on a real Redis', function () {
  this.timeout(30_000)
  let redis: TestRedis
  const stores: RedisStore[] = []
  const limits: SenderLimits[] = []

  before(async () => {
    redis = await startRedis()
  })
  after(async () => {
    for (const l of limits) await l.close()
    for (const s of stores) await s.close()
    await redis.stop()
  })

  async function process(): Promise<{ limits: SenderLimits; registry: Registry }> {
    const store = new RedisStore({ url: redis.url, prefix: 'senderlimits:', logger })
    await store.ping()
    stores.push(store)
    const registry = new Registry()
    const l = new SenderLimits({ ...CONFIG, redis: store.shared, logger, registry })
    limits.push(l)
    return { limits: l, registry }
  }

  const sender = (ip: string, pubkey: string | null = null) => ({ tokenId: 't1', ip, pubkey })
  const ok = (a: SenderAdmission) => {
    if (!a.ok) throw new Error(`refused: ${a.limit}`)
    return a.slot
  }

  it("shares session counts and a person's message budget between two instances", async () => {
    const a = await process()
    const b = await process()
    const first = ok(await a.limits.admit(sender('198.51.100.1')))
    ok(await b.limits.admit(sender('198.51.100.1')))
    expect(await a.limits.admit(sender('198.51.100.1'))).to.deep.equal({
      ok: false,
      limit: 'sessions_per_ip',
    })
    first.release()
    await waitUntil(async () => {
      const again = await b.limits.admit(sender('198.51.100.1'))
      if (again.ok) return true
      return false
    })

    // Budget of 10 per 2 s window for one person, spent on instance a.
    for (let i = 0; i < 10; i++) expect(a.limits.allowMessage('ab'.repeat(32))).to.equal(true)
    expect(a.limits.allowMessage('ab'.repeat(32))).to.equal(false)
    // b learns from Redis after its first report, within a turn or two.
    await waitUntil(() => !b.limits.allowMessage('ab'.repeat(32)), {
      what: 'b sees a spent budget',
    })
    expect(await fallbacks(a.registry)).to.equal(0)
  })

  it('refuses nobody while Redis is down, counting in the process instead', async () => {
    const a = await process()
    await redis.kill()
    try {
      ok(await a.limits.admit(sender('198.51.100.7')))
      ok(await a.limits.admit(sender('198.51.100.7')))
      // Counted locally: the process's own limit still holds.
      expect(await a.limits.admit(sender('198.51.100.7'))).to.deep.include({ ok: false })
      expect(a.limits.allowMessage('cd'.repeat(32))).to.equal(true)
      expect(await fallbacks(a.registry)).to.be.greaterThan(0)
    } finally {
      await redis.restart()
    }
  })
})

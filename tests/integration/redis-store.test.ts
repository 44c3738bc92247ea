import { randomBytes } from 'node:crypto'
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

const hex = (bytes: number) => randomBytes(bytes).toString('hex')

function registration(relayKey: string, gatewayPath?: string): Registration {
  return {
    relayKey,
    peers: [hex(32)],
    metadata: gatewayPath === undefined ? {} : { gatewayPath },
    nonce: hex(8),
    issuedAt: 1,
    registeredAt: 2,
    expiresAt: 3,
  }
}

describe('RedisStore on a real redis-server', () => {
  let redis: TestRedis
  let admin: Redis
  let sink: LogSink
  let prefix: string
  let store: RedisStore
  const stores: RedisStore[] = []

  const open = (storePrefix = prefix) => {
    const opened = new RedisStore({
      url: redis.url,
      prefix: storePrefix,
      logger: pino({ level: 'warn' }, sink.stream),
    })
    stores.push(opened)
    return opened
  }

  before(async () => {
    redis = await startRedis()
    admin = new Redis(redis.url)
  })

  beforeEach(async () => {
    sink = createLogSink()
    prefix = `spec:${hex(6)}:`
    store = open()
    await store.ping()
  })

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()))
  })

  after(async () => {
    await admin?.quit()
    await redis?.stop()
  })

  it('lays out keys as documented, with Redis doing the expiry', async () => {
    const relay = hex(32)
    const reg = registration(relay, 'docs')
    await store.putRegistration(reg, 30)
    await store.useNonce('register', 'n1', 30)
    await store.nextTokenSeq(relay)
    await store.revokeTokens(relay, 1234)
    await store.addUsage('tok', { requests: 2 })

    expect(JSON.parse((await admin.get(`${prefix}relay:${relay}`)) as string)).to.deep.equal(reg)
    expect(await admin.pttl(`${prefix}relay:${relay}`)).to.be.within(29_000, 30_000)
    expect(await admin.get(`${prefix}alias:docs`)).to.equal(relay)
    expect(await admin.pttl(`${prefix}alias:docs`)).to.be.within(29_000, 30_000)
    expect(await admin.pttl(`${prefix}nonce:register:n1`)).to.be.within(29_000, 30_000)
    expect(await admin.hgetall(`${prefix}tokens:${relay}`)).to.deep.equal({
      seq: '1',
      minSeq: '2',
      revokedAt: '1234',
    })
    expect(await admin.hgetall(`${prefix}usage:tok`)).to.deep.equal({ requests: '2' })
  })

  it('treats corrupt registrations as absent and logs them', async () => {
    const [good, garbage, wrongShape, wrongKey] = [hex(32), hex(32), hex(32), hex(32)]
    await store.putRegistration(registration(good), 60)
    await admin.set(`${prefix}relay:${garbage}`, '{not json')
    await admin.set(`${prefix}relay:${wrongShape}`, JSON.stringify({ relayKey: wrongShape }))
    await admin.set(`${prefix}relay:${wrongKey}`, JSON.stringify(registration(good)))
    await admin.set(`${prefix}alias:broken`, garbage)

    for (const key of [garbage, wrongShape, wrongKey]) {
      expect(await store.getRegistration(key)).to.equal(null)
    }
    expect(await store.resolveRelay('broken')).to.equal(null)
    expect((await store.listRegistrations()).map((r) => r.relayKey)).to.deep.equal([good])
    await sink.waitFor((l) => l.msg === 'ignoring a corrupt registration' && l.level === 40)
    // A corrupt value can still be replaced (and removed).
    await store.putRegistration(registration(garbage, 'fixed'), 60)
    expect(await store.resolveRelay('fixed')).to.have.property('relayKey', garbage)
    expect(await store.removeRegistration(wrongShape)).to.equal(true)
  })

  it('reads corrupt token and usage fields as zero / absent', async () => {
    const relay = hex(32)
    await admin.hset(`${prefix}tokens:${relay}`, { seq: 'x', minSeq: '3', revokedAt: '-1' })
    expect(await store.getTokenState(relay)).to.deep.equal({ seq: 0, minSeq: 3, revokedAt: 0 })
    await admin.hset(`${prefix}usage:k`, { ok: '5', bad: 'NaN' })
    expect(await store.getUsage('k')).to.deep.equal({ ok: 5 })
  })

  it('ignores malformed change-feed messages and keeps delivering', async () => {
    const log = recordChanges(store)
    await admin.publish(`${prefix}changes`, '{oops')
    await admin.publish(`${prefix}changes`, JSON.stringify({ type: 'registration' }))
    await admin.publish(`${prefix}changes`, JSON.stringify({ type: 'unknown', relayKey: 'k' }))
    const relay = hex(32)
    await store.putRegistration(registration(relay), 60)
    expect(await log.waitForCount(1)).to.deep.equal([{ type: 'registration', relayKey: relay }])
    expect(
      sink.lines().filter((l) => l.msg === 'ignoring a malformed change-feed message'),
    ).to.have.length(3)
  })

  it('keeps prefixes apart, glob characters included', async () => {
    const globby = open(`spec:${hex(4)}*[?]:`)
    const plain = open(`spec:${hex(4)}:`)
    await Promise.all([globby.ping(), plain.ping()])
    const log = recordChanges(plain)
    await store.putRegistration(registration(hex(32), 'mine'), 60)
    const theirs = registration(hex(32), 'mine')
    await globby.putRegistration(theirs, 60)
    expect(await globby.listRegistrations()).to.deep.equal([theirs])
    expect(await plain.listRegistrations()).to.deep.equal([])
    expect(await plain.resolveRelay('mine')).to.equal(null)
    await plain.putRegistration(registration('c'.repeat(64)), 60)
    expect(await log.waitForCount(1)).to.deep.equal([
      { type: 'registration', relayKey: 'c'.repeat(64) },
    ])
  })

  it('reloads its scripts when the server has forgotten them', async () => {
    const relay = hex(32)
    await store.putRegistration(registration(relay, 'one'), 60)
    await admin.script('FLUSH')
    await store.putRegistration(registration(relay, 'two'), 60)
    expect(await store.resolveRelay('two')).to.have.property('relayKey', relay)
    expect(await store.resolveRelay('one')).to.equal(null)
  })

  it('rejects a URL that is not redis:// or rediss:// without echoing it', () => {
    const url = 'http://user:hunter2@example.com'
    const make = () => new RedisStore({ url, prefix, logger: pino({ level: 'silent' }) })
    expect(make).to.throw().with.property('code', ErrorCode.CONFIG_INVALID)
    expect(make)
      .to.throw()
      .that.satisfies((e: Error) => !e.message.includes('hunter2'))
  })
})

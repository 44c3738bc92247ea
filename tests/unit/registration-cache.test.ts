import { expect } from 'chai'
import { once } from 'node:events'
import { pino } from 'pino'
import { RegistrationCache } from '../../proxy/registration-cache.js'
import type { Registration } from '../../shared/store/gateway-store.js'
import { MemoryStore } from '../../shared/store/memory-store.js'

const KEY = 'a'.repeat(64)
const logger = pino({ level: 'silent' })

function registration(now: number, extra: Partial<Registration> = {}): Registration {
  return {
    relayKey: KEY,
    peers: ['b'.repeat(64)],
    metadata: { gatewayPath: 'alias' },
    nonce: null,
    issuedAt: now,
    registeredAt: now,
    expiresAt: now + 60_000,
    ...extra,
  }
}

/** A MemoryStore whose resolveRelay calls are counted and can be made to fail. */
class CountingStore extends MemoryStore {
  calls = 0
  failing = false
  override async resolveRelay(id: string): Promise<Registration | null> {
    this.calls++
    if (this.failing) throw new Error('store down')
    return super.resolveRelay(id)
  }
}

describe('RegistrationCache (memory store, no network)', () => {
  let store: CountingStore
  let cache: RegistrationCache
  let clock: number

  beforeEach(() => {
    store = new CountingStore()
    clock = Date.now()
    cache = new RegistrationCache({
      store,
      logger,
      ttlMs: 1_000,
      negativeTtlMs: 100,
      now: () => clock,
    })
  })

  afterEach(() => cache.close())

  it('answers from the cache within the TTL and asks the store again after it', async () => {
    await store.putRegistration(registration(clock), 60)
    expect((await cache.resolve(KEY))?.relayKey).to.equal(KEY)
    expect((await cache.resolve(KEY))?.relayKey).to.equal(KEY)
    expect(store.calls).to.equal(1)
    clock += 1_001
    await cache.resolve(KEY)
    expect(store.calls).to.equal(2)
  })

  it('shares one store call between concurrent lookups and remembers unknowns briefly', async () => {
    const [a, b] = await Promise.all([cache.resolve('nope'), cache.resolve('nope')])
    expect([a, b]).to.deep.equal([null, null])
    expect(store.calls).to.equal(1)
    await cache.resolve('nope')
    expect(store.calls).to.equal(1)
    clock += 101
    await cache.resolve('nope')
    expect(store.calls).to.equal(2)
  })

  it('serves a stale entry while the store is down, and throws when it has none', async () => {
    await store.putRegistration(registration(clock), 60)
    await cache.resolve(KEY)
    clock += 1_001
    store.failing = true
    expect((await cache.resolve(KEY))?.relayKey).to.equal(KEY)
    let thrown: unknown = null
    await cache.resolve('other').catch((err: unknown) => (thrown = err))
    expect(thrown).to.be.instanceOf(Error)
  })

  it('never answers a lapsed registration', async () => {
    await store.putRegistration(registration(clock, { expiresAt: clock + 500 }), 60)
    expect(await cache.resolve(KEY)).to.not.equal(null)
    clock += 600
    expect(await cache.resolve(KEY)).to.equal(null)
  })

  it('follows the change feed: a re-registration drops the cached entry, revocations are announced', async () => {
    cache.start()
    await store.putRegistration(registration(clock), 60)
    await cache.resolve('alias')
    await store.putRegistration(registration(clock, { peers: ['c'.repeat(64)] }), 60)
    expect((await cache.resolve('alias'))?.peers).to.deep.equal(['c'.repeat(64)])
    expect(store.calls).to.equal(2)
    const revoked = once(cache, 'revoked')
    await store.revokeTokens(KEY)
    const [relayKey] = (await revoked) as [string]
    expect(relayKey).to.equal(KEY)
  })

  it('announces live registrations at start and from the feed, so workers are known early', async () => {
    await store.putRegistration(registration(clock), 60)
    const lapsed = registration(clock, { relayKey: 'd'.repeat(64), expiresAt: clock - 1 })
    await store.putRegistration(lapsed, 60)
    const heard: Registration[] = []
    cache.on('registered', (r: Registration) => heard.push(r))
    const first = once(cache, 'registered')
    cache.start()
    await first
    expect(heard.map((r) => r.relayKey)).to.deep.equal([KEY])
    const next = once(cache, 'registered')
    await store.putRegistration(registration(clock, { peers: ['c'.repeat(64)] }), 60)
    const [again] = (await next) as [Registration]
    expect(again.peers).to.deep.equal(['c'.repeat(64)])
    // The announcement's read also fills the cache: no second store call for the same key.
    expect((await cache.resolve(KEY))?.peers).to.deep.equal(['c'.repeat(64)])
    expect(store.calls).to.equal(0)
  })

  it('never caches a lookup that was in flight when the registration changed', async () => {
    cache.start()
    await store.putRegistration(registration(clock), 60)
    const slow = cache.resolve('alias')
    await store.putRegistration(registration(clock, { peers: ['c'.repeat(64)] }), 60)
    await slow
    expect((await cache.resolve('alias'))?.peers).to.deep.equal(['c'.repeat(64)])
  })

  it('never announces a registration after its removal was heard', async () => {
    // The announcement's read is held until the removal has been heard.
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    const getRegistration = store.getRegistration.bind(store)
    store.getRegistration = async (key: string) => {
      const value = await getRegistration(key)
      await held
      return value
    }
    cache.start()
    const heard: string[] = []
    cache.on('registered', () => heard.push('registered'))
    cache.on('removed', () => heard.push('removed'))
    const removed = once(cache, 'removed')
    await store.putRegistration(registration(clock), 60)
    await store.removeRegistration(KEY)
    await removed
    release()
    await new Promise((resolve) => setImmediate(resolve))
    expect(heard).to.deep.equal(['removed'])
  })

  it('start and close are idempotent; close leaves the feed and removes listeners', async () => {
    cache.start()
    cache.start()
    cache.on('revoked', () => {})
    await Promise.all([cache.close(), cache.close()])
    expect(cache.listenerCount('revoked')).to.equal(0)
    let heard = false
    cache.on('revoked', () => (heard = true))
    await store.revokeTokens(KEY)
    expect(heard).to.equal(false)
    cache.start()
    await store.revokeTokens(KEY)
    expect(heard).to.equal(false)
  })
})

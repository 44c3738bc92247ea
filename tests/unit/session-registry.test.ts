import { expect } from 'chai'
import { closeStubs, identity, openSession, stubContext } from '../helpers/session-stubs.js'

const A = 'a'.repeat(64)
const B = 'b'.repeat(64)
const isVerb = (verb: string) => (m: unknown) => Array.isArray(m) && m[0] === verb

describe('SessionRegistry (stub pool, no network)', () => {
  afterEach(closeStubs)

  it('indexes sessions by worker: a state change reaches only that worker’s sessions', async () => {
    const { pool, ctx, registry } = stubContext()
    pool.add(A)
    pool.add(B)
    const onA = openSession(ctx, identity([A]))
    const onB = openSession(ctx, identity([B]))
    onA.ws.client(['REQ', 's', {}])
    onB.ws.client(['REQ', 's', {}])
    await onA.ws.next(isVerb('EOSE'))
    await onB.ws.next(isVerb('EOSE'))
    registry.start()
    expect(registry.onPeer(A)).to.deep.equal([onA.session])
    expect(registry.onPeer(B)).to.deep.equal([onB.session])
    pool.setState(A, 'down') // A's only worker is gone: its session waits (bounded), B's is untouched
    expect(onA.session.state).to.equal('moving')
    expect(onB.session.state).to.equal('open')
  })

  it('closes only the revoked relay’s sessions with 4403, found by relay', async () => {
    const { pool, ctx, registry, cache, store } = stubContext()
    pool.add(A)
    cache.start()
    registry.start()
    const victim = openSession(
      ctx,
      identity([A], { tokenPayload: { issuedAt: Date.now() - 1_000 } }),
    )
    const other = identity([A])
    other.registration = { ...other.registration, relayKey: 'f'.repeat(64) }
    const bystander = openSession(ctx, other)
    await store.revokeTokens('r'.repeat(64))
    await new Promise((r) => setImmediate(r))
    expect(victim.ws.closedWith?.[0]).to.equal(4403)
    expect(bystander.ws.closedWith).to.equal(null)
    expect(registry.size).to.equal(1)
    await cache.close()
  })

  it('forgets a closed session in every index', async () => {
    const { pool, ctx, registry } = stubContext()
    pool.add(A)
    const s = openSession(ctx, identity([A]))
    s.ws.client(['REQ', 's', {}])
    await s.ws.next(isVerb('EOSE'))
    expect(registry.size).to.equal(1)
    expect(registry.onPeer(A)).to.deep.equal([s.session])
    s.session.close(1000, 'done')
    expect(registry.size).to.equal(0)
    expect(registry.onPeer(A)).to.deep.equal([])
  })

  it('start and close are idempotent; close removes its pool and cache listeners', async () => {
    const { pool, registry, cache } = stubContext()
    registry.start()
    registry.start()
    expect(pool.listenerCount('state')).to.equal(1)
    expect(cache.listenerCount('revoked')).to.equal(1)
    await Promise.all([registry.close(), registry.close()])
    expect(pool.listenerCount('state')).to.equal(0)
    expect(pool.listenerCount('wsframe')).to.equal(0)
    expect(cache.listenerCount('revoked')).to.equal(0)
    expect(cache.listenerCount('resync')).to.equal(0)
  })

  it('counts sessions_opened and sessions_closed over the same (accepted) sessions', async () => {
    const { pool, ctx, metrics } = stubContext()
    pool.add(A)
    const one = openSession(ctx, identity([A]))
    const two = openSession(ctx, identity([]))
    one.session.close(1000, 'done')
    expect(two.ws.closedWith?.[0]).to.equal(1013)
    const opened = (await metrics.sessionsOpened.get()).values[0]?.value
    const closed = (await metrics.sessionsClosed.get()).values.reduce((n, v) => n + v.value, 0)
    expect(opened).to.equal(2)
    expect(closed).to.equal(2)
  })
})

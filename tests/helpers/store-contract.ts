import { randomBytes } from 'node:crypto'
import { expect } from 'chai'
import { ErrorCode } from '../../shared/errors.js'
import { isTokenRevoked } from '../../shared/store/gateway-store.js'
import type { GatewayStore, Registration, UsageCounters } from '../../shared/store/gateway-store.js'
import { recordChanges } from './store-changes.js'
import { waitUntil } from './wait-until.js'

const hex = (bytes: number) => randomBytes(bytes).toString('hex')

function registration(relayKey: string, gatewayPath?: string, ttlMs = 60_000): Registration {
  const now = Date.now()
  return {
    relayKey,
    peers: [hex(32), hex(32)],
    metadata: { name: 'relay', isPublic: true, ...(gatewayPath ? { gatewayPath } : {}) },
    nonce: hex(8),
    issuedAt: now,
    registeredAt: now,
    expiresAt: now + ttlMs,
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (err: unknown) => err,
  )
}

/** How the contract opens stores of one implementation. */
export interface StoreBackend {
  /** A fresh store, isolated from other tests. */
  open(): GatewayStore
  /** Another instance sharing the last `open()`'s state (same Redis and prefix). */
  openPeer(): GatewayStore
}

/**
 * The one contract every GatewayStore implementation must meet. `shared`: instances can share
 * state (the cross-instance change feed is then part of the contract).
 */
export function storeContract(name: string, shared: boolean, backend: () => StoreBackend): void {
  describe(`GatewayStore contract: ${name}`, () => {
    const opened: GatewayStore[] = []
    let store: GatewayStore
    let openPeer: () => GatewayStore
    let relay: string

    beforeEach(async () => {
      const b = backend()
      store = b.open()
      opened.push(store)
      openPeer = () => b.openPeer()
      relay = hex(32)
      await store.ping()
    })

    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()))
    })

    describe('registrations', () => {
      it('stores, reads back and lists registrations', async () => {
        const other = hex(32)
        const a = registration(relay, 'alpha-' + hex(4))
        const b = registration(other)
        await store.putRegistration(a, 60)
        await store.putRegistration(b, 60)
        expect(await store.getRegistration(relay)).to.deep.equal(a)
        expect(await store.getRegistration(other)).to.deep.equal(b)
        const listed = await store.listRegistrations()
        const byKey = (x: Registration, y: Registration) => x.relayKey.localeCompare(y.relayKey)
        expect(listed.sort(byKey)).to.deep.equal([a, b].sort(byKey))
      })

      it('returns null for unknown relays and aliases', async () => {
        expect(await store.getRegistration(relay)).to.equal(null)
        expect(await store.resolveRelay(relay)).to.equal(null)
        expect(await store.resolveRelay('no-such-path')).to.equal(null)
        expect(await store.registrationTtl(relay)).to.equal(null)
        expect(await store.listRegistrations()).to.deep.equal([])
      })

      it('resolves by relay key and by gatewayPath alias', async () => {
        const reg = registration(relay, 'path-' + hex(4))
        await store.putRegistration(reg, 60)
        expect(await store.resolveRelay(relay)).to.deep.equal(reg)
        expect(await store.resolveRelay(reg.metadata.gatewayPath as string)).to.deep.equal(reg)
      })

      it('reports the remaining ttl in ms and renews it on a new put', async () => {
        await store.putRegistration(registration(relay), 2)
        const short = await store.registrationTtl(relay)
        expect(short).to.be.a('number').within(1, 2_000)
        await store.putRegistration(registration(relay), 60)
        expect(await store.registrationTtl(relay)).to.be.within(58_000, 60_000)
      })

      it('removes a registration and its alias, once', async () => {
        const path = 'gone-' + hex(4)
        await store.putRegistration(registration(relay, path), 60)
        expect(await store.removeRegistration(relay)).to.equal(true)
        expect(await store.getRegistration(relay)).to.equal(null)
        expect(await store.resolveRelay(path)).to.equal(null)
        expect(await store.registrationTtl(relay)).to.equal(null)
        expect(await store.listRegistrations()).to.deep.equal([])
        expect(await store.removeRegistration(relay)).to.equal(false)
      })

      it('moves the alias when gatewayPath changes, drops it when gatewayPath goes', async () => {
        const [first, second] = ['first-' + hex(4), 'second-' + hex(4)]
        await store.putRegistration(registration(relay, first), 60)
        const moved = registration(relay, second)
        await store.putRegistration(moved, 60)
        expect(await store.resolveRelay(first)).to.equal(null)
        expect(await store.resolveRelay(second)).to.deep.equal(moved)
        await store.putRegistration(registration(relay), 60)
        expect(await store.resolveRelay(second)).to.equal(null)
      })

      it('leaves an alias alone once another relay has claimed it', async () => {
        const [shared, own] = ['shared-' + hex(4), 'own-' + hex(4)]
        const other = hex(32)
        await store.putRegistration(registration(relay, shared), 60)
        const claimer = registration(other, shared)
        await store.putRegistration(claimer, 60)
        expect(await store.resolveRelay(shared)).to.deep.equal(claimer)
        // The first relay moving away or leaving must not take the claimer's alias with it.
        await store.putRegistration(registration(relay, own), 60)
        expect(await store.resolveRelay(shared)).to.deep.equal(claimer)
        await store.removeRegistration(relay)
        expect(await store.resolveRelay(shared)).to.deep.equal(claimer)
        expect(await store.resolveRelay(own)).to.equal(null)
      })

      it('does not resolve an alias to a relay that no longer claims it', async () => {
        const [shared, elsewhere] = ['shared-' + hex(4), 'elsewhere-' + hex(4)]
        const other = hex(32)
        const original = registration(relay, shared)
        await store.putRegistration(original, 60)
        await store.putRegistration(registration(other, shared), 60)
        await store.putRegistration(registration(other, elsewhere), 60)
        expect(await store.resolveRelay(shared)).to.equal(null)
        // Its owner takes it back on the next renewal.
        await store.putRegistration(original, 60)
        expect(await store.resolveRelay(shared)).to.deep.equal(original)
      })

      it('expires a registration and its alias after the ttl', async () => {
        const path = 'brief-' + hex(4)
        await store.putRegistration(registration(relay, path), 0.3)
        expect(await store.getRegistration(relay)).not.to.equal(null)
        expect(await store.resolveRelay(path)).not.to.equal(null)
        await waitUntil(async () => (await store.getRegistration(relay)) === null, {
          timeoutMs: 3_000,
          what: 'registration expiry',
        })
        expect(await store.resolveRelay(path)).to.equal(null)
        expect(await store.resolveRelay(relay)).to.equal(null)
        expect(await store.registrationTtl(relay)).to.equal(null)
        expect(await store.listRegistrations()).to.deep.equal([])
        expect(await store.removeRegistration(relay)).to.equal(false)
      })

      it('returns copies: mutating a result does not change the store', async () => {
        await store.putRegistration(registration(relay, 'copy-' + hex(4)), 60)
        const got = (await store.getRegistration(relay)) as Registration
        const before = structuredClone(got)
        got.peers.push('mutated')
        got.metadata.name = 'mutated'
        expect(await store.getRegistration(relay)).to.deep.equal(before)
      })

      it('rejects invalid arguments without storing anything', async () => {
        for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
          expect(await rejection(store.putRegistration(registration(relay), ttl))).to.be.instanceOf(
            RangeError,
          )
        }
        const broken = { ...registration(relay), peers: 'nope' } as unknown as Registration
        expect(await rejection(store.putRegistration(broken, 60))).to.be.instanceOf(TypeError)
        expect(await store.getRegistration(relay)).to.equal(null)
        // Rejections, never synchronous throws.
        expect(await rejection(store.useNonce('s', '', 60))).to.be.instanceOf(TypeError)
        expect(await rejection(store.useNonce('s', 'n', 0))).to.be.instanceOf(RangeError)
        const nan = Number.NaN
        expect(await rejection(store.revokeTokens(relay, nan))).to.be.instanceOf(RangeError)
        expect(await store.getTokenState(relay)).to.deep.equal({ seq: 0, minSeq: 0, revokedAt: 0 })
      })
    })

    describe('nonces', () => {
      it('accepts a nonce once per scope', async () => {
        const nonce = hex(8)
        expect(await store.useNonce('register', nonce, 60)).to.equal(true)
        expect(await store.useNonce('register', nonce, 60)).to.equal(false)
        expect(await store.useNonce('token', nonce, 60)).to.equal(true)
      })

      it('keeps scopes apart even when they contain the separator', async () => {
        expect(await store.useNonce('a:b', 'c', 60)).to.equal(true)
        expect(await store.useNonce('a', 'b:c', 60)).to.equal(true)
      })

      it('accepts a nonce again once its ttl has passed', async () => {
        const nonce = hex(8)
        expect(await store.useNonce('register', nonce, 0.2)).to.equal(true)
        expect(await store.useNonce('register', nonce, 0.2)).to.equal(false)
        await waitUntil(() => store.useNonce('register', nonce, 60), { timeoutMs: 3_000 })
        expect(await store.useNonce('register', nonce, 60)).to.equal(false)
      })
    })

    describe('tokens', () => {
      it('starts at zero and hands out increasing sequence numbers', async () => {
        expect(await store.getTokenState(relay)).to.deep.equal({ seq: 0, minSeq: 0, revokedAt: 0 })
        expect(await store.nextTokenSeq(relay)).to.equal(1)
        expect(await store.nextTokenSeq(relay)).to.equal(2)
        expect(await store.getTokenState(relay)).to.deep.equal({ seq: 2, minSeq: 0, revokedAt: 0 })
        expect(await store.getTokenState(hex(32))).to.deep.equal({
          seq: 0,
          minSeq: 0,
          revokedAt: 0,
        })
      })

      it('hands out distinct numbers to concurrent callers', async () => {
        const seqs = await Promise.all(Array.from({ length: 50 }, () => store.nextTokenSeq(relay)))
        expect([...seqs].sort((a, b) => a - b)).to.deep.equal(
          Array.from({ length: 50 }, (_, i) => i + 1),
        )
      })

      it('revokes every token issued so far, registrar-issued and legacy', async () => {
        const issued = [await store.nextTokenSeq(relay), await store.nextTokenSeq(relay)]
        const state = await store.revokeTokens(relay, 5_000)
        expect(state).to.deep.equal({ seq: 2, minSeq: 3, revokedAt: 5_000 })
        expect(await store.getTokenState(relay)).to.deep.equal(state)
        for (const seq of issued) expect(isTokenRevoked(state, { seq })).to.equal(true)
        const fresh = await store.nextTokenSeq(relay)
        const later = await store.getTokenState(relay)
        expect(isTokenRevoked(later, { seq: fresh })).to.equal(false)
        expect(isTokenRevoked(later, { issuedAt: 4_999 })).to.equal(true)
        expect(isTokenRevoked(later, { issuedAt: 5_000 })).to.equal(true)
        expect(isTokenRevoked(later, { issuedAt: 5_001 })).to.equal(false)
        expect(isTokenRevoked(later, {})).to.equal(true)
        expect(isTokenRevoked(await store.getTokenState(hex(32)), { issuedAt: 1 })).to.equal(false)
      })

      it('never moves revokedAt back, and defaults it to the current time', async () => {
        await store.revokeTokens(relay, 9_000)
        expect((await store.revokeTokens(relay, 1_000)).revokedAt).to.equal(9_000)
        const other = hex(32)
        const before = Date.now()
        const state = await store.revokeTokens(other)
        expect(state.revokedAt).to.be.within(before, Date.now())
        expect(state).to.include({ seq: 0, minSeq: 1 })
      })
    })

    describe('usage', () => {
      it('adds to counters per key', async () => {
        const key = 'token-' + hex(4)
        expect(await store.getUsage(key)).to.deep.equal({})
        await store.addUsage(key, { requests: 1, bytes: 100 })
        await store.addUsage(key, { requests: 2 })
        await store.addUsage(key, {})
        expect(await store.getUsage(key)).to.deep.equal({ requests: 3, bytes: 100 })
        expect(await store.getUsage('other-' + hex(4))).to.deep.equal({})
      })

      it('keeps counters whose names are special to JavaScript objects', async () => {
        const key = 'token-' + hex(4)
        await store.addUsage(key, JSON.parse('{"__proto__": 2, "constructor": 3}') as UsageCounters)
        const usage = await store.getUsage(key)
        expect(Object.getPrototypeOf(usage)).to.equal(Object.prototype)
        expect(Object.entries(usage)).to.have.deep.members([
          ['__proto__', 2],
          ['constructor', 3],
        ])
      })

      it('rejects counters that are not safe integers', async () => {
        const key = 'token-' + hex(4)
        expect(await rejection(store.addUsage(key, { a: 1, b: 1.5 }))).to.be.instanceOf(RangeError)
        expect(await store.getUsage(key)).to.deep.equal({})
      })
    })

    describe('change feed', () => {
      it('announces registrations, removals and revocations to the writer itself', async () => {
        const log = recordChanges(store)
        const other = hex(32)
        await store.putRegistration(registration(relay), 60)
        await store.removeRegistration(relay)
        const state = await store.revokeTokens(relay, 7)
        await store.removeRegistration(hex(32)) // nothing there: no announcement
        await store.putRegistration(registration(other), 60)
        expect(await log.waitForCount(4)).to.deep.equal([
          { type: 'registration', relayKey: relay },
          { type: 'registration-removed', relayKey: relay },
          { type: 'tokens-revoked', relayKey: relay, state },
          { type: 'registration', relayKey: other },
        ])
      })

      it('never runs a listener inside the writer’s call stack', async () => {
        let writing = false
        let calledWhileWriting: boolean | null = null
        store.subscribe(() => {
          calledWhileWriting ??= writing
        })
        writing = true
        const put = store.putRegistration(registration(relay), 60)
        writing = false
        await put
        await waitUntil(() => calledWhileWriting !== null, { timeoutMs: 3_000 })
        expect(calledWhileWriting).to.equal(false)
      })

      it('stops delivering after unsubscribe, and a throwing listener harms no other', async () => {
        const dropped: unknown[] = []
        const unsubscribe = store.subscribe((c) => dropped.push(c))
        store.subscribe(() => {
          throw new Error('listener bug')
        })
        unsubscribe()
        const log = recordChanges(store)
        await store.putRegistration(registration(relay), 60)
        await store.putRegistration(registration(relay), 60)
        expect(await log.waitForCount(2)).to.have.length(2)
        expect(dropped).to.deep.equal([])
      })

      if (!shared) return

      it('delivers changes to another instance on the same state', async () => {
        const peer = openPeer()
        opened.push(peer)
        await peer.ping()
        const log = recordChanges(peer)
        await store.putRegistration(registration(relay), 60)
        const state = await store.revokeTokens(relay, 42)
        await store.removeRegistration(relay)
        expect(await log.waitForCount(3)).to.deep.equal([
          { type: 'registration', relayKey: relay },
          { type: 'tokens-revoked', relayKey: relay, state },
          { type: 'registration-removed', relayKey: relay },
        ])
        expect(await peer.getTokenState(relay)).to.deep.equal(state)
      })
    })

    describe('close', () => {
      it('is idempotent and makes every later call fail with STORE_CLOSED', async () => {
        await Promise.all([store.close(), store.close()])
        await store.close()
        const calls: Array<() => Promise<unknown>> = [
          () => store.putRegistration(registration(relay), 60),
          () => store.getRegistration(relay),
          () => store.resolveRelay(relay),
          () => store.registrationTtl(relay),
          () => store.removeRegistration(relay),
          () => store.listRegistrations(),
          () => store.useNonce('s', 'n', 60),
          () => store.getTokenState(relay),
          () => store.nextTokenSeq(relay),
          () => store.revokeTokens(relay),
          () => store.addUsage('k', { a: 1 }),
          () => store.getUsage('k'),
          () => store.ping(),
        ]
        for (const call of calls) {
          expect(await rejection(call())).to.have.property('code', ErrorCode.STORE_CLOSED)
        }
        expect(() => store.subscribe(() => {}))
          .to.throw()
          .with.property('code', 'STORE_CLOSED')
      })
    })
  })
}

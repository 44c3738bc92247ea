import { expect } from 'chai'
import { pino } from 'pino'
import { ErrorCode } from '../../shared/errors.js'
import type { Registration, StoreChange } from '../../shared/store/gateway-store.js'
import { MemoryStore } from '../../shared/store/memory-store.js'
import { createLogSink } from '../helpers/log-sink.js'
import { waitUntil } from '../helpers/wait-until.js'

const RELAY = 'a'.repeat(64)
const OTHER = 'b'.repeat(64)

function registration(relayKey: string, gatewayPath?: string): Registration {
  return {
    relayKey,
    peers: ['c'.repeat(64)],
    metadata: gatewayPath === undefined ? {} : { gatewayPath },
    nonce: null,
    issuedAt: null,
    registeredAt: 0,
    expiresAt: 10_000,
  }
}

describe('MemoryStore', () => {
  let clock: number
  let store: MemoryStore
  const now = () => clock

  beforeEach(() => {
    clock = 1_000_000
    store = new MemoryStore({ now })
  })

  afterEach(async () => {
    await store.close()
  })

  describe('expiry on its injected clock', () => {
    it('keeps a registration and its alias until exactly the ttl has passed', async () => {
      await store.putRegistration(registration(RELAY, 'path'), 10)
      clock += 9_999
      expect(await store.registrationTtl(RELAY)).to.equal(1)
      expect(await store.resolveRelay('path')).to.have.property('relayKey', RELAY)
      clock += 1
      expect(await store.registrationTtl(RELAY)).to.equal(null)
      expect(await store.getRegistration(RELAY)).to.equal(null)
      expect(await store.resolveRelay('path')).to.equal(null)
      expect(await store.listRegistrations()).to.deep.equal([])
    })

    it('lets an expired relay’s alias go to nobody, and a renewal restart the ttl', async () => {
      await store.putRegistration(registration(RELAY, 'path'), 10)
      clock += 5_000
      await store.putRegistration(registration(RELAY, 'path'), 10)
      clock += 9_000
      expect(await store.resolveRelay('path')).to.have.property('relayKey', RELAY)
      clock += 1_000
      expect(await store.resolveRelay('path')).to.equal(null)
    })

    it('accepts a nonce again once its ttl has passed', async () => {
      expect(await store.useNonce('s', 'n', 5)).to.equal(true)
      clock += 4_999
      expect(await store.useNonce('s', 'n', 5)).to.equal(false)
      clock += 1
      expect(await store.useNonce('s', 'n', 5)).to.equal(true)
    })

    it('stamps a revocation with the injected clock by default', async () => {
      expect(await store.revokeTokens(RELAY)).to.deep.equal({
        seq: 0,
        minSeq: 1,
        revokedAt: 1_000_000,
      })
    })
  })

  describe('sweep', () => {
    it('frees expired registrations, aliases and nonces, and nothing live', async () => {
      await store.putRegistration(registration(RELAY, 'path'), 10)
      await store.putRegistration(registration(OTHER), 60)
      await store.useNonce('s', 'n', 10)
      await store.useNonce('s', 'kept', 60)
      clock += 10_000
      expect(store.sweep()).to.equal(3)
      expect(store.sweep()).to.equal(0)
      expect(await store.getRegistration(OTHER)).not.to.equal(null)
      expect(await store.useNonce('s', 'kept', 60)).to.equal(false)
    })

    it('runs on its timer, and stops when the store closes', async () => {
      const swept = new MemoryStore({ now, sweepIntervalMs: 5 })
      let runs = 0
      let removed = 0
      const sweep = swept.sweep.bind(swept)
      swept.sweep = () => {
        runs++
        const n = sweep()
        removed += n
        return n
      }
      await swept.putRegistration(registration(RELAY), 1)
      clock += 1_000
      await waitUntil(() => removed === 1, { timeoutMs: 2_000, intervalMs: 5 })
      await swept.close()
      const runsAtClose = runs
      // A few intervals' worth: enough for a surviving timer to show itself.
      await new Promise((resolve) => setTimeout(resolve, 30))
      expect(runs).to.equal(runsAtClose)
    })
  })

  describe('change feed', () => {
    it('has delivered a change by the time the writer’s await resumes', async () => {
      const seen: StoreChange[] = []
      store.subscribe((c) => seen.push(c))
      const put = store.putRegistration(registration(RELAY), 10)
      expect(seen).to.deep.equal([])
      await put
      expect(seen).to.deep.equal([{ type: 'registration', relayKey: RELAY }])
    })

    it('does not deliver to a listener that unsubscribed before delivery', async () => {
      const seen: StoreChange[] = []
      const unsubscribe = store.subscribe((c) => seen.push(c))
      const put = store.putRegistration(registration(RELAY), 10)
      unsubscribe()
      await put
      expect(seen).to.deep.equal([])
    })

    it('logs a throwing listener instead of crashing', async () => {
      const sink = createLogSink()
      const logged = new MemoryStore({ logger: pino({ level: 'error' }, sink.stream) })
      try {
        logged.subscribe(() => {
          throw new Error('listener bug')
        })
        await logged.putRegistration(registration(RELAY), 10)
        const line = await sink.waitFor((l) => l.msg === 'store change listener threw')
        expect(line).to.have.property('change', 'registration')
      } finally {
        await logged.close()
      }
    })
  })

  describe('close', () => {
    it('drops changes still queued for delivery', async () => {
      const seen: StoreChange[] = []
      store.subscribe((c) => seen.push(c))
      const put = store.putRegistration(registration(RELAY), 10)
      const closed = store.close()
      await Promise.all([put, closed])
      expect(seen).to.deep.equal([])
    })

    it('forgets its state and rejects later calls with STORE_CLOSED', async () => {
      await store.putRegistration(registration(RELAY), 10)
      await store.close()
      const err: unknown = await store.getRegistration(RELAY).catch((e: unknown) => e)
      expect(err).to.have.property('code', ErrorCode.STORE_CLOSED)
      expect(() => store.subscribe(() => {}))
        .to.throw()
        .with.property('code', 'STORE_CLOSED')
      expect(store.sweep()).to.equal(0)
    })
  })

  describe('stored values', () => {
    it('stores what JSON (and so Redis) would: undefined fields are dropped', async () => {
      const reg = { ...registration(RELAY), metadata: { name: undefined, description: 'd' } }
      await store.putRegistration(reg, 10)
      const got = await store.getRegistration(RELAY)
      expect(got?.metadata).to.deep.equal({ description: 'd' })
      expect(Object.keys(got?.metadata ?? {})).to.deep.equal(['description'])
    })

    it('is not affected by the caller mutating what it stored', async () => {
      const reg = registration(RELAY)
      await store.putRegistration(reg, 10)
      reg.peers.push('mutated')
      expect(await store.getRegistration(RELAY)).to.have.deep.property('peers', ['c'.repeat(64)])
    })
  })
})

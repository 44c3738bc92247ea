import { expect } from 'chai'
import { EventEmitter } from 'node:events'
import { OwnerPeers } from '../../proxy/owner-peers.js'
import type { RegistrationCache } from '../../proxy/registration-cache.js'
import type { Registration } from '../../shared/store/gateway-store.js'

const K1 = '1'.repeat(64)
const K2 = '2'.repeat(64)
const K3 = '3'.repeat(64)

function registration(relayKey: string, peers: string[]): Registration {
  const now = Date.now()
  return {
    relayKey,
    peers,
    metadata: {},
    nonce: null,
    issuedAt: now,
    registeredAt: now,
    expiresAt: now + 60_000,
  }
}

/** The pool's allow-list as OwnerPeers drives it. */
class ListPool {
  readonly allowed = new Set<string>()
  allow(keys: readonly string[]): void {
    for (const k of keys) this.allowed.add(k)
  }
  disallow(keys: readonly string[]): void {
    for (const k of keys) this.allowed.delete(k)
  }
}

describe('OwnerPeers: the pool accepts the workers live registrations list (no network)', () => {
  let cache: EventEmitter
  let pool: ListPool
  let peers: OwnerPeers

  beforeEach(() => {
    cache = new EventEmitter()
    pool = new ListPool()
    peers = new OwnerPeers({ cache: cache as unknown as RegistrationCache, pool })
    peers.start()
  })

  afterEach(() => peers.close())

  it('allows a registration’s peers as soon as it is announced', () => {
    cache.emit('registered', registration('r1', [K1, K2]))
    expect([...pool.allowed].sort()).to.deep.equal([K1, K2])
  })

  it('refuses a key again once no relay lists it, but not while another one does', () => {
    cache.emit('registered', registration('r1', [K1, K2]))
    cache.emit('registered', registration('r2', [K2]))
    cache.emit('removed', 'r1')
    expect([...pool.allowed]).to.deep.equal([K2])
    cache.emit('registered', registration('r2', [K3]))
    expect([...pool.allowed]).to.deep.equal([K3])
    cache.emit('removed', 'r2')
    expect(pool.allowed.size).to.equal(0)
  })

  it('starts from nothing after a feed gap; the re-announced registrations count again', () => {
    cache.emit('registered', registration('r1', [K1]))
    cache.emit('resync')
    expect(pool.allowed.size).to.equal(0)
    cache.emit('registered', registration('r1', [K1]))
    cache.emit('removed', 'r1')
    expect(pool.allowed.size).to.equal(0)
  })

  it('close removes its listeners; start and close are idempotent', () => {
    peers.start()
    peers.close()
    peers.close()
    expect(cache.eventNames()).to.deep.equal([])
    cache.emit('registered', registration('r1', [K1]))
    expect(pool.allowed.size).to.equal(0)
  })
})

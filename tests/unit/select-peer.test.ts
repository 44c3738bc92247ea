import { expect } from 'chai'
import { backoffDelay } from '../../shared/retry/backoff.js'
import { selectPeer } from '../../shared/swarm/select-peer.js'
import type { PeerSnapshot } from '../../shared/swarm/select-peer.js'

const peer = (key: string, over: Partial<PeerSnapshot> = {}): PeerSnapshot => ({
  key,
  state: 'ready',
  inflight: 0,
  sessions: 0,
  latencyMs: 10,
  ...over,
})

describe('selectPeer', () => {
  it('prefers ready, then never dialled, then unhealthy, and never down', () => {
    expect(selectPeer([peer('a', { state: 'unhealthy' }), peer('b', { state: null })])).to.equal(
      'b',
    )
    expect(selectPeer([peer('a', { state: null }), peer('b')])).to.equal('b')
    expect(selectPeer([peer('a', { state: 'down' })])).to.equal(null)
    expect(selectPeer([peer('a', { state: 'down' }), peer('b', { state: 'unhealthy' })])).to.equal(
      'b',
    )
  })

  it('weighs load by latency and breaks ties by key', () => {
    expect(selectPeer([peer('a', { sessions: 3 }), peer('b', { sessions: 1 })])).to.equal('b')
    expect(
      selectPeer([peer('a', { latencyMs: 50 }), peer('b', { inflight: 2, latencyMs: 10 })]),
    ).to.equal('b')
    expect(selectPeer([peer('b'), peer('a')])).to.equal('a')
  })

  it('puts the fewest sessions first among ready peers, latency only breaking ties', () => {
    expect(
      selectPeer([peer('a', { sessions: 1, latencyMs: 1 }), peer('b', { latencyMs: 90 })]),
    ).to.equal('b')
    expect(
      selectPeer([
        peer('a', { sessions: 2, latencyMs: 5 }),
        peer('b', { sessions: 2, latencyMs: 9 }),
      ]),
    ).to.equal('a')
  })

  it('skips excluded peers', () => {
    expect(selectPeer([peer('a'), peer('b', { sessions: 9 })], new Set(['a']))).to.equal('b')
    expect(selectPeer([peer('a')], new Set(['a']))).to.equal(null)
  })
})

describe('backoffDelay', () => {
  const opts = { minMs: 100, maxMs: 1_000 }

  it('doubles per attempt up to the cap, with half the window fixed', () => {
    expect(backoffDelay(0, opts, () => 0)).to.equal(50)
    expect(backoffDelay(0, opts, () => 1)).to.equal(100)
    expect(backoffDelay(3, opts, () => 0)).to.equal(400)
    expect(backoffDelay(10, opts, () => 1)).to.equal(1_000)
  })
})

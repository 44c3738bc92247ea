import { expect } from 'chai'
import { reconnectDelay } from '../../shared/store/redis-connection.js'

describe('reconnectDelay', () => {
  const backoff = { minMs: 100, maxMs: 5_000 }

  it('retries a refused connect (Redis restarting) at the shortest delay, however many attempts', () => {
    for (const attempt of [1, 2, 10, 1_000]) {
      expect(reconnectDelay(attempt, 'ECONNREFUSED', backoff)).to.equal(100)
    }
  })

  it('backs off, doubling up to the cap, after anything else', () => {
    for (const code of ['ETIMEDOUT', 'EHOSTUNREACH', undefined]) {
      expect(reconnectDelay(1, code, backoff)).to.be.within(50, 100)
      expect(reconnectDelay(5, code, backoff)).to.be.within(800, 1_600)
      expect(reconnectDelay(50, code, backoff)).to.be.within(2_500, 5_000)
    }
  })
})

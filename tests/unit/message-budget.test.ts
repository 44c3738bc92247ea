import { expect } from 'chai'
import { pino } from 'pino'
import { RateLimiterMemory } from 'rate-limiter-flexible'
import { MessageBudget } from '../../proxy/message-budget.js'

const logger = pino({ level: 'silent' })

// A report goes out on the next turn; the in-memory limiter answers within it.
const reported = () => new Promise((resolve) => setImmediate(() => setImmediate(resolve)))

describe('MessageBudget', () => {
  const budgets: MessageBudget[] = []
  afterEach(() => {
    for (const b of budgets.splice(0)) b.close()
  })

  function budget(limiter: RateLimiterMemory, now: () => number) {
    const b = new MessageBudget({ limiter, points: 4, durationMs: 2_000, logger, now })
    budgets.push(b)
    return b
  }

  it('answers synchronously, per key, and refuses past the budget', () => {
    const b = budget(new RateLimiterMemory({ points: 4, duration: 2 }), () => 1_000)
    expect([1, 2, 3, 4, 5].map(() => b.allow('alice'))).to.deep.equal([
      true,
      true,
      true,
      true,
      false,
    ])
    expect(b.allow('bob')).to.equal(true)
  })

  it('learns from the shared limiter what other processes used', async () => {
    let now = 1_000
    const shared = new RateLimiterMemory({ points: 4, duration: 2 })
    const a = budget(shared, () => now)
    const b = budget(shared, () => now)
    for (let i = 0; i < 3; i++) expect(a.allow('alice')).to.equal(true)
    await reported()
    // b has not heard from the limiter yet; its first report tells it the budget is spent.
    expect(b.allow('alice')).to.equal(true)
    expect(b.allow('alice')).to.equal(true)
    await reported()
    expect(b.allow('alice')).to.equal(false)
    expect(a.allow('alice')).to.equal(true) // a still believes one is left
    await reported()
    expect(a.allow('alice')).to.equal(false)
    // A new window gives the key its budget back.
    now += 2_001
    expect(a.allow('alice')).to.equal(true)
  })
})

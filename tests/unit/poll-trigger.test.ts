import { expect } from 'chai'
import { acceptsEvent, PollTrigger } from '../../proxy/poll-trigger.js'

const nextTick = () => new Promise((resolve) => setImmediate(resolve))

describe('event-triggered polling', () => {
  it('asks every watcher of the worker once per wave, however many OKs came in it', async () => {
    const trigger = new PollTrigger()
    const calls = { a: 0, b: 0, other: 0 }
    const a = trigger.watch('w1', { pollEarly: () => void calls.a++ })
    trigger.watch('w1', { pollEarly: () => void calls.b++ })
    trigger.watch('w2', { pollEarly: () => void calls.other++ })
    for (let i = 0; i < 5; i++) trigger.accepted('w1')
    await nextTick()
    expect(calls).to.deep.equal({ a: 1, b: 1, other: 0 })
    a.close()
    a.close()
    trigger.accepted('w1')
    await nextTick()
    expect(calls).to.deep.equal({ a: 1, b: 2, other: 0 })
    expect(trigger.watchers('w1')).to.equal(1)
  })

  it('costs nothing for a worker nobody watches', async () => {
    const trigger = new PollTrigger()
    trigger.accepted('nobody')
    await nextTick()
    expect(trigger.stats.accepted).to.equal(0)
  })

  it('bounds one session to one early poll per gap, with at most one waiting', async () => {
    const trigger = new PollTrigger()
    let polls = 0
    const early = trigger.early(40, () => {
      polls++
      return true
    })
    early.request()
    early.request()
    early.request()
    expect(polls).to.equal(1)
    await new Promise((resolve) => setTimeout(resolve, 60))
    // The two later requests coalesced into one, run when the gap was over.
    expect(polls).to.equal(2)
    expect(trigger.stats.polls).to.equal(2)
    early.stop()
  })

  it('runs a refused early poll when the session becomes free', () => {
    const trigger = new PollTrigger()
    let free = false
    let polls = 0
    const early = trigger.early(0, () => {
      if (!free) return false
      polls++
      return true
    })
    early.request()
    expect(polls).to.equal(0)
    free = true
    early.idle()
    expect(polls).to.equal(1)
    early.idle()
    expect(polls).to.equal(1)
  })

  it('recognises an accepting OK line without parsing', () => {
    expect(acceptsEvent(`["OK","${'a'.repeat(64)}",true,""]`)).to.equal(true)
    expect(acceptsEvent(`["OK","${'a'.repeat(64)}",false,"blocked: no"]`)).to.equal(false)
    expect(acceptsEvent('["NOTICE","OK"]')).to.equal(false)
  })
})

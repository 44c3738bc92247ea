import { expect } from 'chai'
import type { NostrEvent } from 'nostr-tools/core'
import { randomBytes } from 'node:crypto'
import { EOSE_CHASE_POLLS } from '../../proxy/session-poller.js'
import { counter, lcg, startLegacyStack, verbIs } from '../helpers/legacy-stack.js'
import type { LegacyStack, Line } from '../helpers/legacy-stack.js'
import { note } from '../helpers/nostr.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import type { RawClient } from '../helpers/ws-client.js'
import { waitUntil } from '../helpers/wait-until.js'

const POLLS = 'hypertuna_gateway_proxy_polls_total'
const EARLY = 'hypertuna_gateway_proxy_triggered_polls_total'
// Far beyond every test's timeout: whatever a poll delivers here, an early poll fetched.
const NEVER_MS = 600_000

const idsOf = (c: RawClient, sub: string, from = 0, to = c.messages.length) =>
  c.messages
    .slice(from, to)
    .filter(verbIs('EVENT', sub))
    .map((m) => ((m as Line)[2] as NostrEvent).id)

// How a session learns of output a legacy worker queued for it: a REQ answered without its
// EOSE, and events published through the gateway while its own messages are pipelined.
describe('proxy with a legacy worker: early polls', function () {
  this.timeout(60_000)
  let testnet: LocalTestnet
  let legacy: LegacyStack | undefined

  beforeEach(async () => {
    testnet = await startTestnet()
  })

  afterEach(async () => {
    await legacy?.close()
    legacy = undefined
    await testnet.destroy()
  })

  it("delivers a REQ's output the worker queued for the poll without waiting for the interval", async () => {
    // The worker answers each REQ's POST with nothing and queues its lines 30 ms later, past
    // the first early poll: the session must poll again to get them.
    legacy = await startLegacyStack(testnet, {
      proxy: { limits: { pollIntervalMs: NEVER_MS } },
      worker: { reqOutputByPollMs: 30 },
    })
    const tag = randomBytes(4).toString('hex')
    const publisher = await legacy.client()
    const stored = Array.from({ length: 5 }, (_, i) => note(`stored ${i}`, [['t', tag]]))
    for (const e of stored) publisher.send(['EVENT', e])
    for (const e of stored) await publisher.next(verbIs('OK', e.id))

    const c = await legacy.client()
    c.send(['REQ', 'q', { kinds: [1], '#t': [tag] }])
    await c.next(verbIs('EOSE', 'q'))
    const eose = c.messages.findIndex(verbIs('EOSE', 'q'))
    const before = idsOf(c, 'q', 0, eose)
    expect(new Set(before).size, 'no duplicate').to.equal(before.length)
    expect([...before].sort()).to.deep.equal(stored.map((e) => e.id).sort())

    // Live events still come through the event-triggered polls, once each.
    const live = Array.from({ length: 3 }, (_, i) => note(`live ${i}`, [['t', tag]]))
    for (const e of live) publisher.send(['EVENT', e])
    await c.next(() => idsOf(c, 'q', eose).length >= live.length)
    expect(idsOf(c, 'q', eose)).to.deep.equal(live.map((e) => e.id))
    expect(c.messages.filter(verbIs('EOSE', 'q'))).to.have.length(1)
  })

  it('chases a missing EOSE a bounded number of times, and never when the answer had it', async () => {
    // A worker that never sends EOSE: each REQ costs the bound, then only the interval polls.
    legacy = await startLegacyStack(testnet, {
      proxy: { limits: { pollIntervalMs: NEVER_MS } },
      worker: { reqOutputByPollMs: Infinity },
    })
    const { routes, stack } = legacy
    const c = await legacy.rawClient()
    c.send(['REQ', 'never', { kinds: [1] }])
    await waitUntil(() => routes.stats.polls >= EOSE_CHASE_POLLS, { what: 'the chase polls' })
    // Absence has no event to wait for: a window of several gaps (50 ms each) must add none.
    await new Promise((resolve) => setTimeout(resolve, 400))
    expect(routes.stats.polls).to.equal(EOSE_CHASE_POLLS)
    c.send(['REQ', 'never2', { kinds: [2] }])
    await waitUntil(() => routes.stats.polls >= 2 * EOSE_CHASE_POLLS, { what: 'a second chase' })
    await new Promise((resolve) => setTimeout(resolve, 400))
    expect(routes.stats.polls).to.equal(2 * EOSE_CHASE_POLLS)
    expect(await counter(stack, EARLY)).to.equal(2 * EOSE_CHASE_POLLS)
    await legacy.close()

    // The usual worker: a REQ's answer carries its EOSE, so the session does not poll early.
    legacy = await startLegacyStack(testnet, { proxy: { limits: { pollIntervalMs: NEVER_MS } } })
    const d = await legacy.client()
    for (let i = 0; i < 5; i++) {
      d.send(['REQ', `s${i}`, { kinds: [1], limit: 2 }])
      await d.next(verbIs('EOSE', `s${i}`))
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(legacy.routes.stats.polls).to.equal(0)
    expect(await counter(legacy.stack, POLLS)).to.equal(0)
  })

  it('keeps every event once and in order per subscription while sessions pipeline and polls are triggered', async () => {
    const random = lcg(7)
    // Handlers finish out of order; only triggered polls deliver live events.
    legacy = await startLegacyStack(testnet, {
      delayMs: (m) => (m[0] === 'EVENT' ? 1 + random() * 6 : random() * 4),
      proxy: { limits: { pollIntervalMs: NEVER_MS } },
    })
    const { routes, stack } = legacy
    const tag = randomBytes(4).toString('hex')
    const filter = { kinds: [1], '#t': [tag] }
    const publisher = await legacy.client()
    const subscribers = [await legacy.client(), await legacy.client()]
    const events: NostrEvent[] = []
    const burst = async (n: number) => {
      const first = events.length
      const batch = Array.from({ length: n }, (_, i) => note(`e ${first + i}`, [['t', tag]]))
      events.push(...batch)
      for (const e of batch) publisher.send(['EVENT', e])
      for (const e of batch) await publisher.next(verbIs('OK', e.id))
    }
    // Each subscriber pipelines a script (open, open, close one, open) while events flow.
    const script = (c: RawClient) => {
      c.send(['REQ', 'a', filter])
      c.send(['REQ', 'b', filter])
      c.send(['CLOSE', 'b'])
      c.send(['REQ', 'c', filter])
    }
    script(subscribers[0] as RawClient)
    await burst(5)
    script(subscribers[1] as RawClient)
    await Promise.all([burst(5), burst(5)])
    const all = events.map((e) => e.id).sort()

    for (const c of subscribers) {
      for (const sub of ['a', 'c']) {
        await c.next(verbIs('EOSE', sub))
        await c.next(() => idsOf(c, sub).length >= all.length)
        const ids = idsOf(c, sub)
        expect(new Set(ids).size, `no duplicate in ${sub}`).to.equal(ids.length)
        expect([...ids].sort(), `no event lost in ${sub}`).to.deep.equal(all)
        // Live events in the order the worker queued them for this connection.
        const eose = c.messages.findIndex(verbIs('EOSE', sub))
        const storedIds = new Set(idsOf(c, sub, 0, eose))
        const live = idsOf(c, sub, eose)
        const queuedFor = [...routes.output.values()].map((lines) =>
          lines
            .filter((l) => l.startsWith(`["EVENT","${sub}"`))
            .map((l) => ((JSON.parse(l) as Line)[2] as NostrEvent).id)
            .filter((id) => !storedIds.has(id)),
        )
        expect(queuedFor, `order of ${sub}`).to.deep.include(live)
      }
    }
    // Nothing for a subscription once the client has its CLOSED, though the worker may have
    // queued events for it before the CLOSE.
    for (const c of subscribers) {
      const closedAt = c.messages.findIndex(verbIs('CLOSED', 'b'))
      expect(closedAt).to.be.greaterThan(-1)
      expect(idsOf(c, 'b', closedAt), 'events after CLOSED').to.deep.equal([])
    }
    expect(routes.stats.violations).to.deep.equal([])
    expect(routes.stats.maxInFlightPerKey, 'pipelined').to.be.greaterThan(1)
    expect(await counter(stack, EARLY)).to.be.greaterThan(0)
  })
})

import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import type { NostrEvent } from 'nostr-tools/core'
import { counter, lcg, startLegacyStack, verbIs } from '../helpers/legacy-stack.js'
import type { LegacyStack, Line } from '../helpers/legacy-stack.js'
import type { LegacyRelayOptions } from '../helpers/legacy-relay.js'
import { note } from '../helpers/nostr.js'
import type { ProxyStack, startProxyStack } from '../helpers/proxy-stack.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import type { RawClient } from '../helpers/ws-client.js'

// Ordering under pipelining and event-triggered polls, against a worker as the field has
// them (five slots, no extensions) whose handlers finish out of order.
describe('proxy with a legacy worker: pipelining and event-triggered polls', function () {
  this.timeout(60_000)
  let testnet: LocalTestnet
  let legacy: LegacyStack | undefined
  let routes: LegacyStack['routes']
  let stack: ProxyStack

  async function start(
    delayMs: LegacyRelayOptions['delayMs'],
    limits: Parameters<typeof startProxyStack>[1] = {},
  ): Promise<void> {
    legacy = await startLegacyStack(testnet, { delayMs, proxy: limits })
    ;({ routes, stack } = legacy)
  }

  const client = (): Promise<RawClient> => (legacy as LegacyStack).client()

  beforeEach(async () => {
    testnet = await startTestnet()
  })

  afterEach(async () => {
    await legacy?.close()
    legacy = undefined
    await testnet.destroy()
  })

  it('relays answers in order, never overlaps a subscription id, never sends a REQ past an EVENT', async () => {
    const random = lcg(12)
    await start((m) => (m[0] === 'EVENT' ? 2 + random() * 12 : random() * 8))
    const c = await client()
    const tag = randomBytes(4).toString('hex')
    const filter = { kinds: [1], '#t': [tag] }
    // A script a busy client might send in one go: events, subscriptions that must see the
    // events before them, a reused id, closes.
    const sent: Line[] = []
    const events: NostrEvent[] = []
    for (let i = 0; i < 12; i++) {
      const e = note(`ordered ${i}`, [['t', tag]])
      events.push(e)
      sent.push(['EVENT', e])
      if (i % 3 === 2) sent.push(['REQ', `s${i}`, filter])
      if (i % 4 === 3) sent.push(['REQ', 'reused', filter])
      if (i === 7) sent.push(['CLOSE', 's5'])
    }
    for (const m of sent) c.send(m)
    // One terminal answer per message, in the client's order.
    const expected = sent
      .filter((m) => m[0] !== 'CLOSE')
      .map((m) => (m[0] === 'EVENT' ? `OK ${(m[1] as NostrEvent).id}` : `EOSE ${String(m[1])}`))
    const terminal = () =>
      c.messages
        .filter(
          (m): m is Line => verbIs('OK')(m) || (verbIs('EOSE')(m) && (m as Line)[1] !== 'warm'),
        )
        .map((m) => `${String(m[0])} ${String(m[1])}`)
    await c.next(() => terminal().length === expected.length)
    expect(terminal()).to.deep.equal(expected)
    for (const m of c.messages.filter(verbIs('OK'))) expect((m as Line)[2]).to.equal(true)

    // Each REQ returned every event sent before it, stored, once each (an EVENT behind it in
    // the same batch may be stored first, or come live later: either way once).
    const eventsOf = (sub: string) =>
      c.messages.filter(verbIs('EVENT', sub)).map((m) => ((m as Line)[2] as NostrEvent).id)
    const stored = (sub: string) => {
      const upTo = c.messages.findIndex(verbIs('EOSE', sub))
      return c.messages
        .slice(0, upTo)
        .filter(verbIs('EVENT', sub))
        .map((m) => ((m as Line)[2] as NostrEvent).id)
    }
    for (const [index, m] of sent.entries()) {
      if (m[0] !== 'REQ' || m[1] === 'reused') continue
      const before = sent
        .slice(0, index)
        .filter((x) => x[0] === 'EVENT')
        .map((x) => (x[1] as NostrEvent).id)
      const ids = stored(String(m[1]))
      expect(new Set(ids).size, `duplicates in ${String(m[1])}`).to.equal(ids.length)
      expect(ids, `events stored before ${String(m[1])}`).to.include.members(before)
    }
    // Subscriptions still open end with every event exactly once, stored or live (polled).
    const all = events.map((e) => e.id).sort()
    for (const sub of ['s2', 's8', 's11']) {
      await c.next(() => eventsOf(sub).length >= all.length)
      expect([...eventsOf(sub)].sort(), sub).to.deep.equal(all)
    }
    expect(routes.stats.violations).to.deep.equal([])
    expect(routes.stats.maxInFlightPerKey, 'pipelined').to.be.greaterThan(1)
  })

  it('delivers events published through the gateway without waiting for the poll interval', async () => {
    // The interval is far beyond the test's timeout: only triggered polls can deliver.
    await start(() => Math.random() * 3, { limits: { pollIntervalMs: 600_000 } })
    const tag = randomBytes(4).toString('hex')
    const subscribers = [await client(), await client(), await client()]
    for (const s of subscribers) {
      s.send(['REQ', 'live', { kinds: [1], '#t': [tag] }])
      await s.next(verbIs('EOSE', 'live'))
    }
    const publisher = await client()
    const events: NostrEvent[] = []
    for (let i = 0; i < 20; i++) {
      const e = note(`live ${i}`, [['t', tag]])
      events.push(e)
      publisher.send(['EVENT', e])
      // Some together (one trigger wave for several OKs), some apart.
      if (i % 4 === 3) await publisher.next(verbIs('OK', e.id))
    }
    const live = (s: RawClient) =>
      s.messages.filter(verbIs('EVENT', 'live')).map((m) => ((m as Line)[2] as NostrEvent).id)
    for (const s of subscribers) {
      await s.next(() => live(s).length >= events.length)
      const ids = live(s)
      expect(new Set(ids).size, 'no duplicate').to.equal(ids.length)
      expect([...ids].sort()).to.deep.equal(events.map((e) => e.id).sort())
    }
    // Order per subscription: as the worker queued them for that connection.
    for (const [key, lines] of routes.output) {
      const queued = lines
        .filter((l) => l.startsWith('["EVENT","live"'))
        .map((l) => (JSON.parse(l) as Line)[2] as NostrEvent)
        .map((e) => e.id)
      if (queued.length === 0) continue
      const s = subscribers.find((x) => live(x)[0] === queued[0])
      expect(s, `a subscriber for ${key}`).to.not.equal(undefined)
      expect(live(s as RawClient)).to.deep.equal(queued)
    }
    const triggered = await counter(stack, 'hypertuna_gateway_proxy_triggered_polls_total')
    expect(triggered).to.be.greaterThan(0)

    // Closed subscriptions are not polled, triggered or not.
    for (const s of subscribers) s.send(['CLOSE', 'live'])
    await new Promise((resolve) => setTimeout(resolve, 200))
    const polls = await counter(stack, 'hypertuna_gateway_proxy_polls_total')
    const e = note('after close', [['t', tag]])
    publisher.send(['EVENT', e])
    await publisher.next(verbIs('OK', e.id))
    await new Promise((resolve) => setImmediate(resolve))
    // The publisher's own 'warm' subscription is open: its session alone may poll.
    expect(await counter(stack, 'hypertuna_gateway_proxy_polls_total')).to.be.at.most(polls + 4)
  })

  it('sends one message at a time to a relay whose pipelining is turned off', async () => {
    const key = randomBytes(32).toString('hex')
    legacy = await startLegacyStack(testnet, {
      relayKey: key,
      delayMs: () => 3,
      proxy: { limits: { legacyPipelineOff: [key] } },
    })
    routes = legacy.routes
    const c = await client()
    for (let i = 0; i < 6; i++) c.send(['REQ', `one${i}`, { kinds: [1], limit: 1 }])
    await c.next(verbIs('EOSE', 'one5'))
    expect(routes.stats.maxInFlightPerKey).to.equal(1)
    expect(routes.stats.violations).to.deep.equal([])
  })
})

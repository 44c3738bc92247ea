import { expect } from 'chai'
import { AbstractRelay } from 'nostr-tools/abstract-relay'
import { verifyEvent } from 'nostr-tools/pure'
import { WebSocket } from 'ws'
import { note } from '../helpers/nostr.js'
import { startProxyStack } from '../helpers/proxy-stack.js'
import type { ProxyStack } from '../helpers/proxy-stack.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import { startWorker } from '../helpers/worker.js'
import type { TestWorker } from '../helpers/worker.js'

const PREFIXED = /^(rate-limited|invalid|error|restricted|auth-required): /

/** A nostr-tools relay whose socket records every frame it receives, optionally from another IP. */
async function connect(url: string, forwardedFor?: string) {
  const seen: unknown[][] = []
  class RecordingSocket extends WebSocket {
    constructor(address: string) {
      super(
        address,
        forwardedFor === undefined ? {} : { headers: { 'x-forwarded-for': forwardedFor } },
      )
      this.on('message', (data) => seen.push(JSON.parse(String(data)) as unknown[]))
    }
  }
  const relay = await AbstractRelay.connect(url, {
    verifyEvent,
    websocketImplementation: RecordingSocket as unknown as typeof globalThis.WebSocket,
  })
  return { relay, seen }
}

describe('proxy answers in kind under a flood (nostr-tools)', function () {
  this.timeout(60_000)
  let testnet: LocalTestnet
  let worker: TestWorker
  let stack: ProxyStack

  before(async () => {
    testnet = await startTestnet()
    worker = await startWorker(testnet)
    stack = await startProxyStack(testnet)
    await stack.register(worker.relayKey, [worker.publicKey])
    // The flood is about answers on a live link, not the cold start: on a loaded machine the
    // first dial can outlast the stack's 5 s link wait, which closed the flooder "no worker link".
    expect(await stack.pool.whenReady([worker.publicKey], 45_000)).to.equal(worker.publicKey)
  })

  after(async () => {
    await stack.close()
    await worker.close()
    await testnet.destroy()
  })

  it('answers each of 400 EVENTs with one OK and 100 REQs with EOSE or CLOSED; a bystander on the token keeps its round trips', async () => {
    const url = stack.url(worker.relayKey, stack.token(worker.relayKey))
    const flooder = await connect(url)
    const bystander = await connect(url, '198.51.100.7')
    const events = Array.from({ length: 400 }, (_, i) => note(`flood ${i}`))
    const published = events.map((e) =>
      flooder.relay.publish(e).then(
        () => 'ok',
        (reason: unknown) => (reason instanceof Error ? reason.message : String(reason)),
      ),
    )
    const subs = Array.from({ length: 100 }, (_, i) => {
      let settle!: (how: string) => void
      const done = new Promise<string>((resolve) => (settle = resolve))
      const sub = flooder.relay.subscribe([{ kinds: [1], '#t': [`none-${i}`] }], {
        oneose: () => settle('eose'),
        onclose: (reason) => settle(`closed ${reason}`),
      })
      return { sub, done }
    })

    // The bystander's round trips during the flood: publish -> OK, REQ -> EOSE.
    for (let i = 0; i < 5; i++) {
      const mine = note(`bystander ${i}`)
      expect(await bystander.relay.publish(mine)).to.be.a('string')
      let eose = false
      await new Promise<void>((resolve, reject) => {
        const s = bystander.relay.subscribe([{ ids: [mine.id] }], {
          onevent: () => {},
          oneose: () => {
            eose = true
            s.close()
            resolve()
          },
          onclose: (reason) => {
            if (!eose) reject(new Error(`bystander REQ closed: ${reason}`))
          },
        })
      })
    }

    const outcomes = await Promise.all(published)
    const subOutcomes = await Promise.all(subs.map((s) => s.done))
    // On the wire: exactly one OK per EVENT, exactly one EOSE or CLOSED per REQ.
    for (const e of events) {
      const oks = flooder.seen.filter((m) => m[0] === 'OK' && m[1] === e.id)
      expect(oks, e.id).to.have.length(1)
      const ok = oks[0] as unknown[]
      if (ok[2] === false) expect(String(ok[3])).to.match(PREFIXED)
    }
    const subIds = new Set(
      flooder.seen.filter((m) => m[0] === 'EOSE' || m[0] === 'CLOSED').map((m) => m[1]),
    )
    expect(subIds.size).to.equal(100)
    for (const m of flooder.seen.filter((x) => x[0] === 'CLOSED')) {
      expect(String(m[2])).to.match(PREFIXED)
    }
    // Some of the flood was refused (the limits held), and every refusal came in kind.
    const refused = outcomes.filter((o) => o !== 'ok')
    expect(refused.length).to.be.greaterThan(0)
    for (const r of refused) expect(r).to.match(PREFIXED)
    expect(subOutcomes.every((o) => o === 'eose' || /^closed [a-z-]+: /.test(o))).to.equal(true)
    expect(flooder.seen.some((m) => m[0] === 'NOTICE')).to.equal(false)
    for (const s of subs) s.sub.close()
    flooder.relay.close()
    bystander.relay.close()
  })
})

import { expect } from 'chai'
import { note } from '../helpers/nostr.js'
import { collect, Relay } from '../helpers/nostr-client.js'
import { startProxyStack } from '../helpers/proxy-stack.js'
import type { ProxyStack } from '../helpers/proxy-stack.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import { startWorker } from '../helpers/worker.js'
import type { TestWorker } from '../helpers/worker.js'

async function metric(stack: ProxyStack, name: string, labels: Record<string, string> = {}) {
  const m = await stack.registry.getSingleMetric(name)?.get()
  const hit = m?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
  return hit?.value ?? 0
}

describe('proxy sessions end to end with a Nostr client (nostr-tools)', function () {
  this.timeout(30_000)
  let testnet: LocalTestnet
  const closers: Array<() => Promise<void> | void> = []

  before(async () => {
    testnet = await startTestnet()
  })

  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close()
  })

  after(async () => {
    await testnet.destroy()
  })

  for (const push of [true, false]) {
    describe(push ? 'with a push worker' : 'with a polling-only worker', () => {
      let stack: ProxyStack
      let worker: TestWorker

      beforeEach(async () => {
        worker = await startWorker(testnet, { push })
        stack = await startProxyStack(testnet)
        closers.push(
          () => worker.close(),
          () => stack.close(),
        )
        await stack.register(worker.relayKey, [worker.publicKey])
      })

      it('publishes, subscribes to EOSE, delivers live events and CLOSEs', async () => {
        const token = stack.token(worker.relayKey)
        const reader = await Relay.connect(stack.url(worker.relayKey, token))
        const writer = await Relay.connect(stack.url(worker.relayKey, token))
        closers.push(
          () => reader.close(),
          () => writer.close(),
        )

        const stored = note('stored before the subscription')
        expect(await writer.publish(stored)).to.equal('')

        const sub = collect(reader, [{ kinds: [1] }])
        await sub.eose
        expect(sub.events.map((e) => e.id)).to.deep.equal([stored.id])

        const live = note('published after EOSE')
        const arrived = sub.next((e) => e.id === live.id)
        await writer.publish(live)
        expect((await arrived).content).to.equal('published after EOSE')

        const mode = push ? 'push' : 'poll'
        expect(
          await metric(stack, 'hypertuna_gateway_proxy_deliveries_total', { mode }),
        ).to.be.greaterThan(0)
        const polls = await metric(stack, 'hypertuna_gateway_proxy_polls_total')
        if (push) expect(polls).to.equal(0)
        else expect(polls).to.be.greaterThan(0)

        const session = stack.proxy.sessions
          .list()
          .find((s) => worker.relay.subscriptions(s.connectionKey).length > 0)
        expect(session).to.not.equal(undefined)
        const key = session?.connectionKey as string
        const [original] = worker.relay.subscriptions(key)
        sub.close()
        // Client messages are forwarded in order: once a later REQ reaches EOSE, the CLOSE was handled.
        const probe = collect(reader, [{ kinds: [9] }])
        await probe.eose
        const left = worker.relay.subscriptions(key)
        expect(left).to.have.length(1)
        expect(left).to.not.include(original)
        expect(session?.subscriptionIds).to.deep.equal(left)
      })

      it('releases subscriptions at the worker when the client leaves', async () => {
        const token = stack.token(worker.relayKey)
        const reader = await Relay.connect(stack.url(worker.relayKey, token))
        const sub = collect(reader, [{ kinds: [1] }, { kinds: [7] }])
        await sub.eose
        const [session] = stack.proxy.sessions.list()
        const key = session?.connectionKey as string
        expect(worker.relay.subscriptions(key)).to.have.length(1)
        reader.close()
        // The proxy CLOSEs each subscription at the worker; /health on the same channel orders after it.
        while (stack.proxy.sessions.size > 0) await new Promise((r) => setImmediate(r))
        await stack.pool.request(worker.publicKey, { method: 'GET', path: '/health' })
        expect(worker.relay.subscriptions(key)).to.deep.equal([])
      })
    })
  }
})

import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import type { RelayBackend } from '../../shared/worker/relay-backend.js'
import { ExampleRelay } from '../../shared/worker/example-relay.js'
import { RelayHost } from '../../shared/worker/relay-host.js'
import { note } from '../helpers/nostr.js'
import { startProxyStack } from '../helpers/proxy-stack.js'
import { startTestnet } from '../helpers/testnet.js'
import { rawClient } from '../helpers/ws-client.js'

describe('proxy pipelining to workers that offer it', function () {
  this.timeout(30_000)

  it('keeps several messages of one client in flight and relays the answers in order', async () => {
    const testnet = await startTestnet()
    const relay = new ExampleRelay()
    // Holds every message until the test lets go, so we can see how many are in flight.
    const held: Array<() => void> = []
    let arrived = 0
    let onArrive = () => {}
    const backend: RelayBackend = {
      handleMessage: (key, message) => {
        arrived++
        onArrive()
        return new Promise((resolve) => held.push(() => resolve(relay.handleMessage(key, message))))
      },
      onOutput: (listener) => relay.onOutput(listener),
      closeConnection: (key) => relay.closeConnection(key),
    }
    const relayKey = randomBytes(32).toString('hex')
    const host = new RelayHost({
      swarm: testnet.createSwarm(),
      logger: pino({ level: 'silent' }),
      relays: [{ relayKey, backend }],
    })
    await host.start()
    const stack = await startProxyStack(testnet)
    try {
      await stack.register(relayKey, [host.publicKey])
      const c = await rawClient(stack.url(relayKey, stack.token(relayKey)))
      // Open the worker link first, so the batch below knows the worker's capabilities.
      c.send(['REQ', 'warm', { kinds: [7] }])
      await new Promise<void>((resolve) => {
        onArrive = resolve
      })
      held.shift()?.()
      await c.next((m) => Array.isArray(m) && m[0] === 'EOSE')

      const events = Array.from({ length: 5 }, (_, i) => note(`pipelined ${i}`))
      for (const e of events) c.send(['EVENT', e])
      // The worker handles one key in order, but all five requests are on the wire at once.
      while (stack.pool.inflight < 5) await new Promise((r) => setImmediate(r))
      expect(stack.pool.inflight).to.equal(5)
      for (const release of held.splice(0)) release()
      while (held.length > 0 || arrived < 6) {
        await new Promise((r) => setImmediate(r))
        for (const release of held.splice(0)) release()
      }
      const isOk = (m: unknown) => Array.isArray(m) && m[0] === 'OK'
      await c.next(() => c.messages.filter(isOk).length === 5)
      const oks = c.messages.filter(isOk) as unknown[][]
      expect(oks.map((m) => m[1])).to.deep.equal(events.map((e) => e.id))
      c.ws.close()
    } finally {
      await stack.close()
      await host.close()
      relay.close()
      await testnet.destroy()
    }
  })
})

import { expect } from 'chai'
import type { RelaySession } from '../../proxy/relay-session.js'
import { note } from '../helpers/nostr.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import { startReplicatedRelay } from '../helpers/replicated-relay.js'
import type { ReplicatedRelay } from '../helpers/replicated-relay.js'
import type { WorkerProcess } from '../helpers/worker-process.js'
import { rawClient } from '../helpers/ws-client.js'

describe('proxy failover: messages wait while the session moves', function () {
  this.timeout(60_000)
  let testnet: LocalTestnet
  let relay: ReplicatedRelay | undefined

  before(async () => {
    testnet = await startTestnet()
  })

  after(async () => {
    await relay?.close()
    await testnet.destroy()
  })

  it('answers every EVENT sent around a worker SIGKILL with exactly one OK, none refused', async () => {
    relay = await startReplicatedRelay(testnet, { limits: { maxQueuedMessages: 256 } })
    const { relayKey, workers, stack } = relay
    const c = await rawClient(stack.url(relayKey, stack.token(relayKey)))
    c.send(['REQ', 'live', { kinds: [1] }])
    await c.next((m) => Array.isArray(m) && m[0] === 'EOSE')
    const [session] = stack.proxy.sessions.list() as [RelaySession]
    const victim = workers.find((w) => w.publicKey === session.peer) as WorkerProcess

    const events = Array.from({ length: 120 }, (_, i) => note(`around failover ${i}`))
    const isOk = (id: string) => (m: unknown) => Array.isArray(m) && m[0] === 'OK' && m[1] === id
    for (const [i, e] of events.entries()) {
      c.send(['EVENT', e])
      if (i === 40) void victim.kill('SIGKILL')
      // Paced by the answers' arrival, not by a clock: at most 8 unanswered at once.
      if (i >= 8) await c.next(isOk((events[i - 8] as { id: string }).id))
    }
    for (const e of events) await c.next(isOk(e.id))
    for (const e of events) {
      const oks = c.messages.filter(isOk(e.id)) as unknown[][]
      expect(oks, e.id).to.have.length(1)
      expect(oks[0]?.[2], String(oks[0]?.[3])).to.equal(true)
    }
    expect(session.peer).to.not.equal(victim.publicKey)
    expect(session.state).to.equal('open')
    c.ws.close()
  })
})

import { expect } from 'chai'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import type { RelaySession } from '../../proxy/relay-session.js'
import { note } from '../helpers/nostr.js'
import { collect, Relay } from '../helpers/nostr-client.js'
import { startProxyStack } from '../helpers/proxy-stack.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import { startReplicatedRelay } from '../helpers/replicated-relay.js'
import type { ReplicatedRelay } from '../helpers/replicated-relay.js'
import type { WorkerProcess } from '../helpers/worker-process.js'

describe('proxy failover between two workers of one relay', function () {
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

  it('keeps the client socket and its subscription when its worker is SIGKILLed', async () => {
    relay = await startReplicatedRelay(testnet)
    const { relayKey, workers, stack } = relay
    const token = stack.token(relayKey)

    const reader = await Relay.connect(stack.url(relayKey, token))
    let readerClosed = false
    reader.onclose = () => {
      readerClosed = true
    }
    const sub = collect(reader, [{ kinds: [1] }])
    await sub.eose
    const [session] = stack.proxy.sessions.list() as [RelaySession]
    const victim = workers.find((w) => w.publicKey === session.peer) as WorkerProcess

    const moved = once(stack.proxy.sessions, 'failover') as Promise<[RelaySession, string, string]>
    await victim.kill('SIGKILL')
    const [movedSession, from, to] = await moved
    expect(movedSession).to.equal(session)
    expect(from).to.equal(victim.publicKey)
    expect(to).to.not.equal(victim.publicKey)

    const writer = await Relay.connect(stack.url(relayKey, token))
    const live = note('after failover')
    const arrived = sub.next((e) => e.id === live.id)
    await writer.publish(live)
    expect((await arrived).id).to.equal(live.id)
    expect(readerClosed).to.equal(false)
    writer.close()
    reader.close()
  })
})

describe('proxy failover replay', function () {
  this.timeout(30_000)

  it('replays subscriptions on the new worker without repeating events or EOSE', async () => {
    const testnet = await startTestnet()
    const { ExampleRelay } = await import('../../shared/worker/example-relay.js')
    const { RelayHost } = await import('../../shared/worker/relay-host.js')
    const { pino } = await import('pino')
    // Two workers over one shared relay backend, as replicated Hypertuna relays behave.
    const backend = new ExampleRelay()
    const relayKey = randomBytes(32).toString('hex')
    const swarms = [testnet.createSwarm(), testnet.createSwarm()]
    const hosts = swarms.map(
      (swarm) =>
        new RelayHost({
          swarm,
          logger: pino({ level: 'silent' }),
          relays: [{ relayKey, backend }],
        }),
    )
    for (const h of hosts) await h.start()
    const proxyStack = await startProxyStack(testnet)
    try {
      await proxyStack.register(
        relayKey,
        hosts.map((h) => h.publicKey),
      )
      const token = proxyStack.token(relayKey)
      const writer = await Relay.connect(proxyStack.url(relayKey, token))
      const stored = [note('one'), note('two')]
      for (const e of stored) await writer.publish(e)

      const reader = await Relay.connect(proxyStack.url(relayKey, token))
      let eoseCount = 0
      const seen: string[] = []
      let onEvent: (id: string) => void = () => {}
      const eose = new Promise<void>((resolve) => {
        reader.subscribe([{ kinds: [1] }], {
          onevent: (e) => {
            seen.push(e.id)
            onEvent(e.id)
          },
          oneose: () => {
            eoseCount++
            resolve()
          },
        })
      })
      await eose
      const [session] = proxyStack.proxy.sessions.list() as [RelaySession]
      const index = hosts.findIndex((h) => h.publicKey === session.peer)
      const moved = once(proxyStack.proxy.sessions, 'failover')
      await swarms[index]?.destroy()
      await moved

      // After the replay, a fresh live event proves the new worker serves the subscription.
      const live = note('three')
      const arrived = new Promise<void>((resolve) => {
        onEvent = (id) => {
          if (id === live.id) resolve()
        }
      })
      await writer.publish(live)
      await arrived
      // Stored events come first (same second: ordered by id), each once; then the live one.
      expect(seen).to.have.length(3)
      expect(seen.slice(0, 2)).to.have.members(stored.map((e) => e.id))
      expect(seen[2]).to.equal(live.id)
      expect(eoseCount).to.equal(1)
      reader.close()
      writer.close()
    } finally {
      await proxyStack.close()
      for (const h of hosts) await h.close()
      backend.close()
      await testnet.destroy()
    }
  })
})

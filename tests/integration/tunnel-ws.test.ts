import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { WebSocket } from 'ws'
import { wsService } from '../../shared/tunnel/tunnel-wire.js'
import { startLocalWsRelay } from '../helpers/local-ws-relay.js'
import type { LocalWsRelay } from '../helpers/local-ws-relay.js'
import { note } from '../helpers/nostr.js'
import { collect, Relay } from '../helpers/nostr-client.js'
import { startProxyStack } from '../helpers/proxy-stack.js'
import type { ProxyStack } from '../helpers/proxy-stack.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import { waitUntil } from '../helpers/wait-until.js'
import { rawClient } from '../helpers/ws-client.js'
import { startWorker } from '../helpers/worker.js'
import type { TestWorker } from '../helpers/worker.js'

const MAX_FRAME = 64 * 1024

function tcpSockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length
}

describe('tunnelled WebSocket sessions (http-proxy over a raw tunnel)', function () {
  this.timeout(60_000)
  let testnet: LocalTestnet
  let local: LocalWsRelay
  let worker: TestWorker
  let stack: ProxyStack
  const opened: string[] = []

  before(async () => {
    testnet = await startTestnet()
  })

  beforeEach(async () => {
    local = await startLocalWsRelay()
    const relayKey = randomBytes(32).toString('hex')
    worker = await startWorker(testnet, {
      relayKey,
      tunnels: { [wsService(relayKey)]: { port: local.port } },
    })
    stack = await startProxyStack(testnet, { limits: { maxFrameBytes: MAX_FRAME } })
    await stack.register(worker.relayKey, [worker.publicKey])
    opened.length = 0
    stack.proxy.tunnels.on('open', (_peer: string, service: string) => opened.push(service))
    // A warm link, so the first session already tunnels (a cold one goes relay-v2 once).
    await stack.pool.acquire(worker.publicKey)
  })

  afterEach(async () => {
    await stack.close()
    await worker.close()
    await local.close()
  })

  after(async () => {
    await testnet.destroy()
  })

  it('carries a nostr-tools session to the relay itself: publish, EOSE, live event', async () => {
    const token = stack.token(worker.relayKey)
    const reader = await Relay.connect(stack.url(worker.relayKey, token))
    const writer = await Relay.connect(stack.url(worker.relayKey, token))
    const stored = note('stored before the subscription')
    expect(await writer.publish(stored)).to.equal('')
    const sub = collect(reader, [{ kinds: [1] }])
    await sub.eose
    expect(sub.events.map((e) => e.id)).to.deep.equal([stored.id])
    const live = note('published after EOSE')
    const arrived = sub.next((e) => e.id === live.id)
    await writer.publish(live)
    expect((await arrived).content).to.equal('published after EOSE')

    expect(opened).to.deep.equal([wsService(worker.relayKey), wsService(worker.relayKey)])
    // Nothing went through relay-v2, and the relay saw neither the token nor our path.
    expect(stack.proxy.sessions.size).to.equal(0)
    for (const u of local.upgrades) {
      expect(u.url).to.equal('/')
      expect(u.headers['x-auth-token']).to.equal(token)
      expect(u.headers.authorization).to.equal(undefined)
    }
    // The per-worker choice shows in metrics and on the relay page.
    const modes = await stack.registry.getSingleMetric('hypertuna_gateway_tunnel_peer_modes')?.get()
    expect(modes?.values.find((v) => v.labels.mode === 'tunnel')?.value).to.equal(1)
    const open = await stack.registry.getSingleMetric('hypertuna_gateway_tunnel_open')?.get()
    expect(open?.values.find((v) => v.labels.kind === 'ws')?.value).to.equal(2)
    const page = await fetch(`http://127.0.0.1:${stack.port}/${worker.relayKey}`)
    const html = await page.text()
    expect(html).to.contain('id="worker-modes"')
    expect(html).to.contain(`${worker.publicKey.slice(0, 12)}…</code>: tunnel`)
    reader.close()
    writer.close()
    await waitUntil(() => local.clients === 0 && stack.proxy.tunnels.size === 0, {
      what: 'tunnels released',
    })
    expect(stack.pool.snapshot(worker.publicKey).sessions).to.equal(0)
  })

  it('closes 1001 when the worker link is lost, so the client reconnects', async () => {
    const sockets = tcpSockets()
    const client = await rawClient(stack.url(worker.relayKey, stack.token(worker.relayKey)))
    client.send(['REQ', 's', { kinds: [1] }])
    await client.next((m) => Array.isArray(m) && m[0] === 'EOSE')
    stack.pool.peer(worker.publicKey).link?.destroy()
    const [code] = await client.closed
    expect(code).to.equal(1001)
    await waitUntil(() => stack.proxy.tunnels.size === 0 && local.clients === 0, {
      what: 'tunnel released after link loss',
    })
    // The client's socket, the tunnel's and the relay's TCP sockets are all gone.
    await waitUntil(() => tcpSockets() <= sockets, { what: 'sockets closed' })
    expect(stack.pool.snapshot(worker.publicKey).sessions).to.equal(0)
  })

  it('refuses a client frame over the size limit at the edge with 1009', async () => {
    const client = await rawClient(stack.url(worker.relayKey, stack.token(worker.relayKey)))
    client.send(['REQ', 'small', { kinds: [1] }])
    await client.next((m) => Array.isArray(m) && m[0] === 'EOSE')
    client.send(JSON.stringify(['EVENT', { content: 'x'.repeat(MAX_FRAME + 1) }]))
    const [code] = await client.closed
    expect(code).to.equal(1009)
    expect(local.received.every((m) => m.length <= MAX_FRAME)).to.equal(true)
  })

  it('closes tunnelled sessions with 1001 when the proxy shuts down', async () => {
    const client = await rawClient(stack.url(worker.relayKey, stack.token(worker.relayKey)))
    client.send(['REQ', 's', { kinds: [1] }])
    await client.next((m) => Array.isArray(m) && m[0] === 'EOSE')
    const closing = stack.proxy.close()
    const [code, reason] = await client.closed
    await closing
    expect([code, reason]).to.deep.equal([1001, 'gateway shutting down'])
  })

  it('closes 4403 when the token is revoked', async () => {
    const client = await rawClient(stack.url(worker.relayKey, stack.token(worker.relayKey)))
    client.send(['REQ', 's', { kinds: [1] }])
    await client.next((m) => Array.isArray(m) && m[0] === 'EOSE')
    await stack.store.revokeTokens(worker.relayKey, Date.now() + 1_000)
    const [code, reason] = await client.closed
    expect([code, reason]).to.deep.equal([4403, 'token revoked'])
  })

  it('slows a client over the bytes/s budget down without losing a byte', async () => {
    await stack.close()
    stack = await startProxyStack(testnet, {
      limits: { maxFrameBytes: MAX_FRAME, tunnelBytesPerSecond: 32 * 1024 },
    })
    await stack.register(worker.relayKey, [worker.publicKey])
    await stack.pool.acquire(worker.publicKey)
    const client = await rawClient(stack.url(worker.relayKey, stack.token(worker.relayKey)))
    // Four 60 KB messages: the first fits the burst, the rest wait for the budget.
    for (let i = 0; i < 4; i++) client.send(['NOTE', i, 'x'.repeat(60_000)])
    await waitUntil(() => local.received.length === 4, { timeoutMs: 20_000, what: 'all sent' })
    expect(local.received.map((m) => (JSON.parse(m) as unknown[])[1])).to.deep.equal([0, 1, 2, 3])
    const hits = await stack.registry.getSingleMetric('hypertuna_gateway_proxy_limit_hits_total')
    const rate = (await hits?.get())?.values.find((v) => v.labels.limit === 'tunnel_bytes_rate')
    expect(rate?.value ?? 0).to.be.greaterThan(0)
    client.ws.close()
  })

  it('sends a client that reconnects after a lost worker to another worker', async () => {
    const local2 = await startLocalWsRelay()
    const worker2 = await startWorker(testnet, {
      relayKey: worker.relayKey,
      tunnels: { [wsService(worker.relayKey)]: { port: local2.port } },
    })
    try {
      await stack.register(worker.relayKey, [worker.publicKey, worker2.publicKey])
      await stack.pool.acquire(worker2.publicKey)
      const url = stack.url(worker.relayKey, stack.token(worker.relayKey))
      const first = await rawClient(url)
      first.send(['REQ', 's', { kinds: [1] }])
      await first.next((m) => Array.isArray(m) && m[0] === 'EOSE')
      const [served, other] = local.clients === 1 ? [worker, worker2] : [worker2, worker]
      await served.close()
      expect((await first.closed)[0]).to.equal(1001)
      const again = await rawClient(url)
      again.send(['REQ', 's', { kinds: [1] }])
      await again.next((m) => Array.isArray(m) && m[0] === 'EOSE')
      expect((served === worker ? local2 : local).clients).to.equal(1)
      expect(stack.pool.snapshot(other.publicKey).sessions).to.equal(1)
      again.ws.close()
    } finally {
      await worker2.close()
      await local2.close()
    }
  })

  it('still refuses a bad token before any tunnel opens (4403)', async () => {
    const ws = new WebSocket(stack.url(worker.relayKey, 'not-a-token'))
    ws.on('error', () => {})
    const code = await new Promise<number>((resolve) => ws.once('close', resolve))
    expect(code).to.equal(4403)
    expect(opened).to.deep.equal([])
  })
})

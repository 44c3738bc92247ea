import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { ExampleRelay } from '../../shared/worker/example-relay.js'
import { RelayHost } from '../../shared/worker/relay-host.js'
import { startProxyStack, TEST_LIMITS } from '../helpers/proxy-stack.js'
import type { ProxyStack } from '../helpers/proxy-stack.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'

const FILE = randomBytes(200 * 1024)

describe('proxy HTTP: health, relay information and worker files', function () {
  this.timeout(30_000)
  let testnet: LocalTestnet
  let stack: ProxyStack
  let plainRelay: string
  let infoRelay: string
  const hosts: RelayHost[] = []
  const backends: ExampleRelay[] = []

  // Two workers: one hosts a relay with a file and no info document, one a relay with both.
  before(async () => {
    testnet = await startTestnet()
    plainRelay = randomBytes(32).toString('hex')
    infoRelay = randomBytes(32).toString('hex')
    for (const relayKey of [plainRelay, infoRelay]) {
      const backend = new ExampleRelay()
      backends.push(backend)
      const host = new RelayHost({
        swarm: testnet.createSwarm(),
        logger: pino({ level: 'silent' }),
        relays: [
          {
            relayKey,
            backend,
            file: (name) =>
              name === 'blob.bin'
                ? {
                    statusCode: 200,
                    headers: {
                      'content-type': 'application/octet-stream',
                      'proxy-authenticate': 'Basic realm=worker',
                      'x-kind': 'blob',
                    },
                    body: FILE,
                  }
                : null,
            ...(relayKey === infoRelay
              ? {
                  info: () => ({
                    name: 'From the worker',
                    supported_nips: [1, 11, 42],
                    limitation: { max_message_length: 1000, max_subscriptions: 500, max_limit: 50 },
                  }),
                }
              : {}),
          },
        ],
      })
      await host.start()
      hosts.push(host)
    }
    stack = await startProxyStack(testnet, { pool: { openTimeoutMs: 1_500 } })
    await stack.register(plainRelay, [hosts[0]?.publicKey as string], {
      name: 'Plain <relay>',
      description: 'A & B',
    })
    await stack.register(infoRelay, [hosts[1]?.publicKey as string], { name: 'Registered name' })
  })

  after(async () => {
    await stack.close()
    for (const h of hosts) await h.close()
    for (const b of backends) b.close()
    await testnet.destroy()
  })

  const http = (path: string, init?: RequestInit) =>
    fetch(`http://127.0.0.1:${stack.port}${path}`, init)

  it('answers /health, /ready and /metrics', async () => {
    expect((await http('/health')).status).to.equal(200)
    const ready = await http('/ready')
    expect(ready.status).to.equal(200)
    expect(await ready.json()).to.deep.equal({ status: 'ready', store: 'ok' })
    const metrics = await (await http('/metrics')).text()
    expect(metrics).to.include('hypertuna_gateway_proxy_sessions ')
    // The pool's adapter registers on the same injected registry.
    expect(metrics).to.include('hypertuna_gateway_pool_peers{state="ready"}')
  })

  it('builds a NIP-11 document from the registration when the worker offers none', async () => {
    const res = await http(`/${plainRelay}`, { headers: { accept: 'application/nostr+json' } })
    expect(res.status).to.equal(200)
    expect(res.headers.get('content-type')).to.equal('application/nostr+json')
    expect(res.headers.get('access-control-allow-origin')).to.equal('*')
    const doc = (await res.json()) as Record<string, unknown>
    expect(doc).to.deep.include({ name: 'Plain <relay>', description: 'A & B' })
    expect(doc.limitation).to.deep.equal({
      max_message_length: TEST_LIMITS.maxFrameBytes,
      max_subscriptions: TEST_LIMITS.maxSubscriptions,
      max_subid_length: 64,
      auth_required: true,
      messages_per_second: TEST_LIMITS.messagesPerSecond,
    })
  })

  it("serves the worker's own NIP-11 document when it has the relay-info capability", async () => {
    const res = await http(`/${infoRelay}`, { headers: { accept: 'application/nostr+json' } })
    // Merged with the gateway's limits: the stricter of two numbers holds.
    expect(await res.json()).to.deep.equal({
      name: 'From the worker',
      supported_nips: [1, 11, 42],
      limitation: {
        max_message_length: 1000,
        max_subscriptions: TEST_LIMITS.maxSubscriptions,
        max_limit: 50,
        max_subid_length: 64,
        auth_required: true,
        messages_per_second: TEST_LIMITS.messagesPerSecond,
      },
    })
  })

  it('shows browsers an escaped page that never repeats a token', async () => {
    const token = stack.token(plainRelay)
    const res = await http(`/${plainRelay}?token=${token}`, { headers: { accept: 'text/html' } })
    const html = await res.text()
    expect(res.status).to.equal(200)
    expect(html)
      .to.include('Plain &lt;relay&gt;')
      .and.include(`/${plainRelay}?token=&lt;your token&gt;`)
    expect(html).to.not.include(token)
  })

  it('forwards /drive files intact with the worker status and end-to-end headers only', async () => {
    const res = await http(`/drive/${plainRelay}/blob.bin`)
    expect(res.status).to.equal(200)
    expect(res.headers.get('x-kind')).to.equal('blob')
    expect(res.headers.get('proxy-authenticate')).to.equal(null)
    expect(Buffer.from(await res.arrayBuffer()).equals(FILE)).to.equal(true)
    const head = await http(`/drive/${plainRelay}/blob.bin`, { method: 'HEAD' })
    expect(head.headers.get('content-length')).to.equal(String(FILE.length))
    expect((await http(`/drive/${plainRelay}/missing.bin`)).status).to.equal(404)
  })

  it('refuses other methods, unknown relays and unknown paths with JSON codes', async () => {
    const post = await http(`/drive/${plainRelay}/blob.bin`, { method: 'POST' })
    expect(post.status).to.equal(405)
    expect(((await post.json()) as { code: string }).code).to.equal('method_not_allowed')
    const unknown = await http(`/drive/${'e'.repeat(64)}/blob.bin`)
    expect(unknown.status).to.equal(404)
    expect(((await unknown.json()) as { code: string }).code).to.equal('relay_unknown')
    expect((await http('/a/b/c/d/e')).status).to.equal(404)
  })

  it('tries another worker when the first cannot be reached', async () => {
    const dead = randomBytes(32).toString('hex')
    // The dead key sorts first, so a tie in selection tries it before the live worker.
    const deadFirst = '0' + dead.slice(1)
    await stack.register(plainRelay, [deadFirst, hosts[0]?.publicKey as string])
    const res = await http(`/drive/${plainRelay}/blob.bin`)
    expect(res.status).to.equal(200)
    expect(Buffer.from(await res.arrayBuffer()).equals(FILE)).to.equal(true)
  })
})

import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { Registry } from 'prom-client'
import { RateLimiterMemory } from 'rate-limiter-flexible'
import { ProxyServer } from '../../proxy/proxy-server.js'
import { RegistrarServer } from '../../registrar/registrar-server.js'
import { issueClientToken } from '../../shared/auth/client-token.js'
import { createLogger } from '../../shared/log/create-logger.js'
import { MemoryStore } from '../../shared/store/memory-store.js'
import { PeerPool } from '../../shared/swarm/peer-pool.js'
import { ExampleRelay } from '../../shared/worker/example-relay.js'
import { RegistrarClient } from '../../shared/worker/registrar-client.js'
import { RelayHost } from '../../shared/worker/relay-host.js'
import { createLogSink } from '../helpers/log-sink.js'
import type { LogSink } from '../helpers/log-sink.js'
import { note } from '../helpers/nostr.js'
import { TEST_LIMITS } from '../helpers/proxy-stack.js'
import { BASE_OPTIONS } from '../helpers/registrar-harness.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import { rawClient } from '../helpers/ws-client.js'

const SECRET = `log-test-secret-${randomBytes(8).toString('hex')}`

// Every credential value seen on the wire: request bodies' signatures and tokens, signature
// headers, and what the tests hand out. None may appear in any log line.
class SecretBook {
  readonly values = new Set<string>([SECRET])
  add(value: unknown): void {
    if (typeof value === 'string' && value.length >= 8) this.values.add(value)
  }
  scan(value: unknown, key = ''): void {
    if (typeof value === 'string' && /token|signature|secret/i.test(key)) this.add(value)
    else if (Array.isArray(value)) value.forEach((v) => this.scan(v, key))
    else if (typeof value === 'object' && value !== null) {
      for (const [k, v] of Object.entries(value)) this.scan(v, k)
    }
  }
  // A fetch that records what it sends and receives.
  fetch(): typeof fetch {
    return async (input, init) => {
      const headers = new Headers(init?.headers)
      headers.forEach((v, k) => this.scan(v, k))
      if (typeof init?.body === 'string') this.scan(JSON.parse(init.body) as unknown)
      const res = await fetch(input, init)
      const text = await res.clone().text()
      try {
        this.scan(JSON.parse(text) as unknown)
      } catch {
        // Not JSON: nothing to learn.
      }
      return res
    }
  }
}

// Issue 9.5: a full flow at trace level through registrar, proxy, pool and worker; every line
// every component wrote is searched for every credential used.
describe('no secret, token or signature in any log line (trace level, full flow)', function () {
  this.timeout(60_000)
  let testnet: LocalTestnet
  let sink: LogSink
  let store: MemoryStore
  let registrar: RegistrarServer
  let pool: PeerPool
  let proxy: ProxyServer
  let host: RelayHost
  let relay: ExampleRelay
  let client: RegistrarClient
  let proxyPort: number
  let api: string
  const book = new SecretBook()
  const relayKey = randomBytes(32).toString('hex')

  before(async () => {
    testnet = await startTestnet()
    sink = createLogSink()
    const logger = (name: string) =>
      createLogger({ level: 'trace', name, destination: sink.stream })
    store = new MemoryStore()
    const registry = new Registry()
    registrar = new RegistrarServer(
      { ...BASE_OPTIONS, secret: SECRET },
      {
        logger: logger('registrar'),
        registry,
        store,
        rateLimiter: new RateLimiterMemory({ points: 1_000, duration: 60 }),
      },
    )
    api = (await registrar.listen()).url
    pool = new PeerPool({ swarm: testnet.createSwarm(), logger: logger('pool'), registry })
    await pool.start()
    proxy = new ProxyServer({
      host: '127.0.0.1',
      port: 0,
      secret: SECRET,
      publicUrl: '',
      trustedProxies: [],
      limits: TEST_LIMITS,
      store,
      pool,
      logger: logger('proxy'),
      registry,
    })
    proxyPort = (await proxy.listen()).port
    relay = new ExampleRelay()
    host = new RelayHost({
      swarm: testnet.createSwarm(),
      logger: logger('worker'),
      relays: [
        {
          relayKey,
          backend: relay,
          file: () => ({ statusCode: 200, headers: {}, body: Buffer.from('file') }),
        },
      ],
    })
    await host.start()
    client = new RegistrarClient({
      registrarUrl: api,
      secret: SECRET,
      logger: logger('registrar-client'),
      fetch: book.fetch(),
    })
  })

  after(async () => {
    await client?.close()
    await host?.close()
    relay?.close()
    await proxy?.close()
    await pool?.close()
    await registrar?.close()
    await store?.close()
    await testnet?.destroy()
  })

  it('logs the flow and none of its credentials', async () => {
    await client.register({
      relayKey,
      peers: [host.publicKey],
      metadata: { gatewayPath: 'log-test' },
    })
    await client.getRegistration(relayKey)
    const grant = await client.issueToken(relayKey, { via: 'registrar', ttlSeconds: 600 })
    const refreshed = await client.refreshToken(relayKey, grant.token)
    const local = await client.issueToken(relayKey, { via: 'local' })
    book.add(local.token)
    const expired = issueClientToken(SECRET, { relayKey, issuedAt: 1_000, expiresAt: 2_000 })
    const wrongRelay = issueClientToken(SECRET, { relayKey: 'e'.repeat(64), ttlMs: 60_000 })
    const tampered = `${grant.token.slice(0, -4)}0000`
    const forged = `forged-${randomBytes(12).toString('hex')}`
    for (const t of [expired, wrongRelay, tampered, forged]) book.add(t)

    // Sessions: query token, lowercase Bearer, the alias; publish, subscribe, close.
    const ws = (path: string, token?: string) =>
      `ws://127.0.0.1:${proxyPort}/${path}${token === undefined ? '' : `?token=${token}`}`
    const a = await rawClient(ws(relayKey, grant.token))
    const b = await rawClient(ws('log-test'), { authorization: `bearer ${refreshed.token}` })
    const event = note('logged')
    a.send(['EVENT', event])
    await a.next((m) => Array.isArray(m) && m[0] === 'OK')
    b.send(['REQ', 'sub', { ids: [event.id] }])
    await b.next((m) => Array.isArray(m) && m[0] === 'EOSE')
    b.send(['CLOSE', 'sub'])
    for (const c of [a, b]) {
      c.ws.close()
      await c.closed
    }
    // Refusals, each with a credential in the URL or a header.
    for (const [path, token] of [
      [relayKey, expired],
      [relayKey, wrongRelay],
      [relayKey, tampered],
      ['x', forged],
    ] as const) {
      const refused = await rawClient(ws(path, token))
      await refused.closed
    }
    // HTTP with credentials in the query, on both servers.
    const http = `http://127.0.0.1:${proxyPort}`
    for (const url of [
      `${http}/drive/${relayKey}/f.bin?token=${grant.token}`,
      `${http}/${relayKey}?token=${local.token}`,
      `${http}/pfp/${relayKey}?token=${forged}`,
      `${api}api/relays?token=${forged}`,
      `${api}api/relays?tok%65n=${local.token}&signature=${tampered}`,
    ]) {
      const res = await fetch(url, { method: url.startsWith(api) ? 'POST' : 'GET' })
      await res.arrayBuffer()
    }
    const session = await rawClient(ws(relayKey, local.token))
    await client.revokeTokens(relayKey)
    await session.closed
    await client.unregister(relayKey)

    const text = sink.text()
    const lines = sink.lines()
    // The run was logged, at every level down to debug, by every component.
    for (const name of ['registrar', 'proxy', 'pool']) {
      expect(
        lines.some((l) => l.name === name),
        name,
      ).to.equal(true)
    }
    expect(lines.some((l) => typeof l.level === 'number' && l.level <= 20)).to.equal(true)
    expect(lines.some((l) => l.msg === 'incoming request')).to.equal(true)
    expect(lines.some((l) => l.msg === 'session refused')).to.equal(true)
    expect(book.values.size).to.be.greaterThan(8)
    for (const secret of book.values) {
      const hit = lines.find((l) => JSON.stringify(l).includes(secret))
      expect(hit, `${secret.slice(0, 12)}… logged`).to.equal(undefined)
      expect(text.includes(secret)).to.equal(false)
    }
  })
})

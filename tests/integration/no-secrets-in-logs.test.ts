import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Registry } from 'prom-client'
import { RateLimiterMemory } from 'rate-limiter-flexible'
import { ProxyServer } from '../../proxy/proxy-server.js'
import { RegistrarServer } from '../../registrar/registrar-server.js'
import { issueClientToken } from '../../shared/auth/client-token.js'
import { WorkerSecretBox } from '../../shared/auth/worker-secret-box.js'
import { createLogger } from '../../shared/log/create-logger.js'
import { MemoryStore } from '../../shared/store/memory-store.js'
import { PeerPool } from '../../shared/swarm/peer-pool.js'
import { httpService, wsService } from '../../shared/tunnel/tunnel-wire.js'
import { ExampleRelay } from '../../shared/worker/example-relay.js'
import { RegistrarClient } from '../../shared/worker/registrar-client.js'
import { RelayHost } from '../../shared/worker/relay-host.js'
import { startLocalWsRelay } from '../helpers/local-ws-relay.js'
import type { LocalWsRelay } from '../helpers/local-ws-relay.js'
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

// Issues 13 and 15: a worker account (its secret, the account key, the admin token, its
// x-worker-id signatures) and tunnelled traffic (a WebSocket session and a /drive download with
// the token in the query, bytes passed through raw) at trace level: no credential in any line.
describe('no worker-account secret or tunnelled credential in any log line (trace level)', function () {
  this.timeout(60_000)
  const ADMIN_TOKEN = `admin-${randomBytes(24).toString('hex')}`
  const KEY = randomBytes(32).toString('hex')
  let testnet: LocalTestnet
  let sink: LogSink
  let store: MemoryStore
  let registrar: RegistrarServer
  let pool: PeerPool
  let proxy: ProxyServer
  let host: RelayHost
  let local: LocalWsRelay
  let files: Server
  let client: RegistrarClient | undefined
  let proxyPort: number
  let api: string
  const book = new SecretBook()
  const relayKey = randomBytes(32).toString('hex')
  // What the worker's HTTP service sends: it must pass the tunnel, never a log line.
  const fileBody = `file-secret-${randomBytes(12).toString('hex')}`

  before(async () => {
    testnet = await startTestnet()
    sink = createLogSink()
    const logger = (name: string) =>
      createLogger({ level: 'trace', name, destination: sink.stream })
    store = new MemoryStore()
    const registry = new Registry()
    registrar = new RegistrarServer(
      { ...BASE_OPTIONS, secret: SECRET, adminToken: ADMIN_TOKEN, workerSecretKey: KEY },
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
      workerSecrets: new WorkerSecretBox(KEY),
      publicUrl: '',
      trustedProxies: [],
      limits: TEST_LIMITS,
      store,
      pool,
      logger: logger('proxy'),
      registry,
    })
    proxyPort = (await proxy.listen()).port
    local = await startLocalWsRelay()
    files = createServer((_req, res) => res.end(fileBody))
    await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve))
    host = new RelayHost({
      swarm: testnet.createSwarm(),
      logger: logger('worker'),
      relays: [{ relayKey, backend: new ExampleRelay() }],
      tunnels: {
        [wsService(relayKey)]: { port: local.port },
        [httpService(relayKey)]: { port: (files.address() as AddressInfo).port },
      },
    })
    await host.start()
  })

  after(async () => {
    await client?.close()
    await host?.close()
    await local?.close()
    await new Promise((resolve) => files?.close(resolve))
    await proxy?.close()
    await pool?.close()
    await registrar?.close()
    await store?.close()
    await testnet?.destroy()
  })

  it('logs the account, the tunnelled session and download, and none of their credentials', async () => {
    for (const value of [ADMIN_TOKEN, KEY, fileBody]) book.add(value)
    const created = await book.fetch()(`${api}api/admin/workers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'log-test-worker' }),
    })
    expect(created.status).to.equal(201)
    const { workerId, secret } = (await created.json()) as { workerId: string; secret: string }
    expect(book.values.has(secret)).to.equal(true)
    client = new RegistrarClient({
      registrarUrl: api,
      secret,
      workerId,
      logger: createLogger({ level: 'trace', name: 'registrar-client', destination: sink.stream }),
      fetch: book.fetch(),
    })
    await client.register({ relayKey, peers: [host.publicKey], metadata: {} })
    const grant = await client.issueToken(relayKey, { via: 'registrar', ttlSeconds: 600 })
    const local2 = await client.issueToken(relayKey, { via: 'local' })
    book.add(local2.token)
    // The other worker's secret and the shared secret mint tokens the proxy refuses (4403).
    const foreign = issueClientToken(SECRET, { relayKey, ttlMs: 60_000 })
    book.add(foreign)
    const opened: string[] = []
    proxy.tunnels.on('open', (_peer: string, service: string) => opened.push(service))
    // A warm link, so the first session already tunnels.
    await pool.acquire(host.publicKey)

    const ws = (token: string) => `ws://127.0.0.1:${proxyPort}/${relayKey}?token=${token}`
    const session = await rawClient(ws(grant.token))
    session.send(['REQ', 'sub', {}])
    await session.next((m) => Array.isArray(m) && m[0] === 'EOSE')
    session.ws.close()
    await session.closed
    const refused = await rawClient(ws(foreign))
    await refused.closed
    for (const token of [local2.token, foreign]) {
      const res = await fetch(
        `http://127.0.0.1:${proxyPort}/drive/${relayKey}/f.bin?token=${token}`,
      )
      const body = await res.text()
      if (token === local2.token) expect(body).to.equal(fileBody)
    }
    expect(opened).to.include.members([wsService(relayKey), httpService(relayKey)])
    await client.revokeTokens(relayKey)
    await client.unregister(relayKey)
    const disabled = await fetch(`${api}api/admin/workers/${workerId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    expect(disabled.status).to.equal(200)

    const text = sink.text()
    const lines = sink.lines()
    for (const name of ['registrar', 'proxy', 'registrar-client']) {
      expect(
        lines.some((l) => l.name === name),
        name,
      ).to.equal(true)
    }
    expect(lines.some((l) => l.msg === 'worker account created')).to.equal(true)
    // Signed by the account (x-worker-id beside x-signature), and the refusal was logged.
    expect(lines.some((l) => JSON.stringify(l).includes('"x-worker-id"'))).to.equal(true)
    expect(lines.some((l) => l.name === 'proxy' && l.msg === 'session refused')).to.equal(true)
    expect(book.values.size).to.be.greaterThan(6)
    for (const value of book.values) {
      const hit = lines.find((l) => JSON.stringify(l).includes(value))
      expect(hit, `${value.slice(0, 12)}… logged`).to.equal(undefined)
      expect(text.includes(value)).to.equal(false)
    }
  })
})

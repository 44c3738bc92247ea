import { expect } from 'chai'
import { createHash, randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { RateLimiterMemory } from 'rate-limiter-flexible'
import { RegistrarServer } from '../../registrar/registrar-server.js'
import type { RegistrarAddress } from '../../registrar/registrar-server.js'
import { MemoryStore } from '../../shared/store/memory-store.js'
import { ExampleRelay } from '../../shared/worker/example-relay.js'
import { RegistrarClient } from '../../shared/worker/registrar-client.js'
import type { RegisterResult, TokenGrant } from '../../shared/worker/registrar-client.js'
import { RelayHost } from '../../shared/worker/relay-host.js'
import { LOOPBACK, startCaddy } from '../helpers/caddy.js'
import type { TestCaddy } from '../helpers/caddy.js'
import { connectRelay, requestBinary, trustedFetch } from '../helpers/edge-client.js'
import type { LogLine } from '../helpers/log-sink.js'
import { collect } from '../helpers/nostr-client.js'
import { note } from '../helpers/nostr.js'
import { SECRET, startProxyStack } from '../helpers/proxy-stack.js'
import type { ProxyStack } from '../helpers/proxy-stack.js'
import { BASE_OPTIONS } from '../helpers/registrar-harness.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'

const DRIVE_FILE = 'blob.bin'
// A few hundred KB of incompressible bytes: several relay-v2 frames' worth, through TLS.
const DRIVE_BYTES = randomBytes(384 * 1024)

/** An in-process worker hosting one example relay that also serves {@link DRIVE_FILE}. */
interface DriveWorker {
  relayKey: string
  publicKey: string
  close(): Promise<void>
}

async function startDriveWorker(testnet: LocalTestnet): Promise<DriveWorker> {
  const relayKey = randomBytes(32).toString('hex')
  const relay = new ExampleRelay()
  const host = new RelayHost({
    swarm: testnet.createSwarm(),
    logger: pino({ level: 'silent' }),
    relays: [
      {
        relayKey,
        backend: relay,
        file: (name) =>
          name === DRIVE_FILE
            ? {
                statusCode: 200,
                headers: { 'content-type': 'application/octet-stream' },
                body: DRIVE_BYTES,
              }
            : null,
      },
    ],
  })
  await host.start()
  return {
    relayKey,
    publicKey: host.publicKey,
    async close() {
      await host.close()
      relay.close()
    },
  }
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

function request(line: LogLine): { method?: unknown; uri?: unknown; headers?: unknown } {
  return (line.request ?? {}) as { method?: unknown; uri?: unknown; headers?: unknown }
}

function uri(line: LogLine): string {
  const value = request(line).uri
  return typeof value === 'string' ? value : ''
}

function isUpgrade(line: LogLine): boolean {
  const headers = (request(line).headers ?? {}) as Record<string, unknown>
  return JSON.stringify(headers.Upgrade ?? []).includes('websocket')
}

describe('end to end through a real Caddy (TLS with its internal CA, loopback)', function () {
  this.timeout(60_000)
  let testnet: LocalTestnet
  let store: MemoryStore
  let registrar: RegistrarServer
  let api: RegistrarAddress
  let stack: ProxyStack
  let worker: DriveWorker
  let caddy: TestCaddy
  let client: RegistrarClient
  let registered: RegisterResult
  let grant: TokenGrant

  before(async () => {
    testnet = await startTestnet()
    store = new MemoryStore()
    registrar = new RegistrarServer(
      { ...BASE_OPTIONS, secret: SECRET },
      {
        logger: pino({ level: 'silent' }),
        registry: new Registry(),
        store,
        rateLimiter: new RateLimiterMemory({ points: 1_000, duration: 60 }),
      },
    )
    api = await registrar.listen()
    // The proxy reads the registrations the registrar writes: one store, as in `npm start`.
    stack = await startProxyStack(testnet, { store })
    worker = await startDriveWorker(testnet)
    caddy = await startCaddy({
      env: {
        GATEWAY_PROXY_UPSTREAMS: `${LOOPBACK}:${stack.port}`,
        GATEWAY_REGISTRAR_UPSTREAMS: `${LOOPBACK}:${api.port}`,
      },
    })
    // The worker knows the gateway only by its public URL: the registrar is behind /api.
    client = new RegistrarClient({
      registrarUrl: caddy.origin,
      secret: SECRET,
      fetch: trustedFetch(caddy.ca),
    })
    registered = await client.register({ relayKey: worker.relayKey, peers: [worker.publicKey] })
    grant = await client.issueToken(worker.relayKey, { via: 'registrar', ttlSeconds: 600 })
  })

  after(async () => {
    await caddy?.stop()
    await client?.close()
    await worker?.close()
    await stack?.close()
    await registrar?.close()
    await store?.close()
    await testnet?.destroy()
  })

  const wssUrl = (token?: string): string =>
    `${caddy.origin.replace('https:', 'wss:')}/${worker.relayKey}` +
    (token === undefined ? '' : `?token=${token}`)

  it('registers the relay and mints a token through https://…/api', async () => {
    expect(registered.ttlSeconds).to.equal(BASE_OPTIONS.registrationTtlSeconds)
    expect(grant.source).to.equal('registrar')
    expect(grant.seq).to.be.a('number')
    expect((await store.getRegistration(worker.relayKey))?.peers).to.deep.equal([worker.publicKey])

    const registration = await caddy.accessLog.waitFor(
      (l) => request(l).method === 'POST' && uri(l) === '/api/relays',
      5_000,
    )
    expect(registration.status).to.equal(200)
    const token = await caddy.accessLog.waitFor(
      (l) => uri(l) === `/api/relays/${worker.relayKey}/tokens`,
      5_000,
    )
    expect(token.status).to.equal(200)
  })

  it('publishes and subscribes through wss:// with a Nostr client (query and Bearer token)', async () => {
    const tag = `e2e-${randomBytes(4).toString('hex')}`
    const reader = await connectRelay(wssUrl(grant.token), { ca: caddy.ca })
    const writer = await connectRelay(wssUrl(), {
      ca: caddy.ca,
      headers: { authorization: `Bearer ${grant.token}` },
    })
    try {
      const stored = note('stored', [['t', tag]])
      await writer.publish(stored)
      const sub = collect(reader, [{ kinds: [1], '#t': [tag] }])
      await sub.eose
      expect(sub.events.map((e) => e.id)).to.deep.equal([stored.id])

      const live = note('live', [['t', tag]])
      const arrival = sub.next((e) => e.id === live.id)
      await writer.publish(live)
      expect((await arrival).id).to.equal(live.id)
    } finally {
      reader.close()
      writer.close()
    }
  })

  it('downloads a /drive file intact through Caddy', async () => {
    const base = `${caddy.origin}/drive/${worker.relayKey}`
    const res = await requestBinary(`${base}/${DRIVE_FILE}`, { ca: caddy.ca })
    expect(res.status).to.equal(200)
    expect(res.headers['content-type']).to.equal('application/octet-stream')
    expect(res.body.length).to.equal(DRIVE_BYTES.length)
    expect(sha256(res.body)).to.equal(sha256(DRIVE_BYTES))

    const missing = await requestBinary(`${base}/missing.bin`, { ca: caddy.ca })
    expect(missing.status).to.equal(404)
  })

  it('does not let /metrics through, though the proxy behind it serves them', async () => {
    const direct = await requestBinary(`http://${LOOPBACK}:${stack.port}/metrics`)
    expect(direct.status).to.equal(200)
    expect(direct.body.toString()).to.contain('hypertuna_gateway_')
    for (const path of ['/metrics', '/metrics?format=openmetrics', '/METRICS']) {
      const res = await requestBinary(`${caddy.origin}${path}`, { ca: caddy.ca })
      expect(res.status, path).to.equal(404)
      expect(res.body.toString(), path).not.to.contain('hypertuna_gateway_')
    }
  })

  it('logs the requests without the token, in the query or as a Bearer header', async () => {
    const drive = `/drive/${worker.relayKey}/${DRIVE_FILE}`
    expect((await requestBinary(`${caddy.origin}${drive}`, { ca: caddy.ca })).status).to.equal(200)
    // A session each way, closed at once: Caddy writes a WebSocket's line when it ends.
    for (const [url, headers] of [
      [wssUrl(grant.token), {}],
      [wssUrl(), { authorization: `Bearer ${grant.token}` }],
    ] as const) {
      const relay = await connectRelay(url, { ca: caddy.ca, headers })
      relay.close()
    }
    const query = await caddy.accessLog.waitFor(
      (l) => isUpgrade(l) && uri(l) === `/${worker.relayKey}?token=REDACTED`,
      5_000,
    )
    expect(query.status).to.be.oneOf([0, 101])
    const bearer = await caddy.accessLog.waitFor(
      (l) => isUpgrade(l) && uri(l) === `/${worker.relayKey}`,
      5_000,
    )
    expect(bearer.status).to.be.oneOf([0, 101])
    expect(Object.keys(request(bearer).headers as object)).not.to.include('Authorization')

    const text = caddy.logText()
    expect(text).to.contain(`"uri":"/api/relays/${worker.relayKey}/tokens"`)
    expect(text).to.contain(`"uri":"${drive}"`)
    const [payload, signature] = grant.token.split('.') as [string, string]
    for (const secret of [grant.token, payload, signature, 'Bearer']) {
      expect(text.includes(secret), `access log contains ${secret.slice(0, 16)}…`).to.equal(false)
    }
  })
})

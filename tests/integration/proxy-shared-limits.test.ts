import { expect } from 'chai'
import { pino } from 'pino'
import { issueClientToken } from '../../shared/auth/client-token.js'
import { RedisStore } from '../../shared/store/redis-store.js'
import { listeningPort, loopbackEnv, spawnGateway } from '../helpers/gateway-process.js'
import type { GatewayProcess } from '../helpers/gateway-process.js'
import { startRedis } from '../helpers/redis-server.js'
import type { TestRedis } from '../helpers/redis-server.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import { waitUntil } from '../helpers/wait-until.js'
import { startWorker } from '../helpers/worker.js'
import type { TestWorker } from '../helpers/worker.js'
import { isNotice, rawClient } from '../helpers/ws-client.js'
import type { RawClient } from '../helpers/ws-client.js'

const SECRET = 'shared-limits-secret-0123456789'
const PREFIX = 'sharedlimits:'
const PER_IP = 3
const LEASE_MS = 4_000

describe('two proxy processes on one Redis share the per-IP session limit', function () {
  this.timeout(90_000)
  let testnet: LocalTestnet
  let redis: TestRedis
  let store: RedisStore
  let worker: TestWorker
  let token: string
  const proxies: GatewayProcess[] = []
  const ports: number[] = []
  const clients: RawClient[] = []

  before(async () => {
    testnet = await startTestnet()
    redis = await startRedis()
    store = new RedisStore({ url: redis.url, prefix: PREFIX, logger: pino({ level: 'silent' }) })
    await store.ping()
    worker = await startWorker(testnet)
    const now = Date.now()
    await store.putRegistration(
      {
        relayKey: worker.relayKey,
        peers: [worker.publicKey],
        metadata: {},
        nonce: null,
        issuedAt: now,
        registeredAt: now,
        expiresAt: now + 120_000,
      },
      120,
    )
    token = issueClientToken(SECRET, { relayKey: worker.relayKey, ttlMs: 120_000 })
    for (let i = 0; i < 2; i++) {
      const gw = spawnGateway('proxy/main.js', {
        ...loopbackEnv(testnet.bootstrap),
        GATEWAY_REGISTRATION_SECRET: SECRET,
        GATEWAY_REGISTRATION_REDIS: redis.url,
        GATEWAY_REGISTRATION_REDIS_PREFIX: PREFIX,
        GATEWAY_PROXY_MAX_SESSIONS_PER_IP: String(PER_IP),
        GATEWAY_PROXY_SESSION_LEASE_MS: String(LEASE_MS),
      })
      proxies.push(gw)
      ports.push(await listeningPort(gw, 'proxy'))
    }
  })

  after(async () => {
    for (const c of clients) c.ws.terminate()
    for (const p of proxies) await p.kill('SIGKILL')
    await worker.close()
    await store.close()
    await redis.stop()
    await testnet.destroy()
  })

  // 'served' once a REQ is answered; otherwise the close code the proxy refused with.
  async function open(proxy: number): Promise<'served' | number> {
    const c = await rawClient(`ws://127.0.0.1:${ports[proxy] as number}/${worker.relayKey}`, {
      authorization: `Bearer ${token}`,
    })
    c.send(['REQ', 's', { kinds: [1], limit: 1 }])
    const outcome = await Promise.race([
      c.next((m) => Array.isArray(m) && m[0] === 'EOSE').then(() => 'served' as const),
      c.closed.then(([code]) => code),
    ])
    if (outcome === 'served') clients.push(c)
    else expect(c.messages.some(isNotice('rate-limited:'))).to.equal(true)
    return outcome
  }

  it('refuses the session over the limit on either process, and frees the place on close', async () => {
    expect(await open(0)).to.equal('served')
    expect(await open(0)).to.equal('served')
    expect(await open(1)).to.equal('served')
    expect(await open(1)).to.equal(1008)
    expect(await open(0)).to.equal(1008)

    const leaving = clients.shift() as RawClient
    leaving.ws.close()
    await leaving.closed
    // The release reaches Redis just after the close; nothing else can take the place.
    await waitUntil(async () => (await open(1)) === 'served', {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: 'released place reused on the other process',
    })
    expect(await open(0)).to.equal(1008)
  })

  it("frees a crashed process's places one lease later, while the live process keeps its own", async () => {
    // Process 1 holds two of the three places; it dies without releasing them.
    const crashed = proxies[1] as GatewayProcess
    await crashed.kill('SIGKILL')
    const killedAt = Date.now()
    expect(await open(0)).to.equal(1008)
    await waitUntil(async () => (await open(0)) === 'served', {
      timeoutMs: LEASE_MS * 4,
      intervalMs: 200,
      what: 'leases of the crashed process lapsed',
    })
    expect(Date.now() - killedAt).to.be.at.least(LEASE_MS / 2)
    await waitUntil(async () => (await open(0)) === 'served', {
      timeoutMs: LEASE_MS * 4,
      intervalMs: 200,
      what: 'second lease lapsed',
    })
    // Process 0's first session has been renewed past its lease: it still counts.
    expect(await open(0)).to.equal(1008)
  })
})

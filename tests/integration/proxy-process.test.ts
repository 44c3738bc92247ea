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
import { startWorker } from '../helpers/worker.js'
import type { TestWorker } from '../helpers/worker.js'
import { rawClient } from '../helpers/ws-client.js'

const SECRET = 'process-test-secret-0123456789'
const PREFIX = 'proxytest:'

describe('proxy processes sharing Redis', function () {
  this.timeout(60_000)
  let testnet: LocalTestnet
  let redis: TestRedis
  let store: RedisStore
  let workers: TestWorker[]
  const proxies: GatewayProcess[] = []
  const ports: number[] = []

  before(async () => {
    testnet = await startTestnet()
    redis = await startRedis()
    store = new RedisStore({ url: redis.url, prefix: PREFIX, logger: pino({ level: 'silent' }) })
    // Resolves once the change feed is live, so the test sees every change it causes.
    await store.ping()
    workers = [await startWorker(testnet), await startWorker(testnet)]
    for (let i = 0; i < 2; i++) {
      const gw = spawnGateway('proxy/main.js', {
        ...loopbackEnv(testnet.bootstrap),
        GATEWAY_REGISTRATION_SECRET: SECRET,
        GATEWAY_REGISTRATION_REDIS: redis.url,
        GATEWAY_REGISTRATION_REDIS_PREFIX: PREFIX,
        GATEWAY_POOL_HEALTH_INTERVAL_MS: '500',
      })
      proxies.push(gw)
      ports.push(await listeningPort(gw, 'proxy'))
    }
  })

  after(async () => {
    for (const p of proxies) await p.kill('SIGKILL')
    for (const w of workers) await w.close()
    await store.close()
    await redis.stop()
    await testnet.destroy()
  })

  const url = (port: number, relay: string, token: string) =>
    `ws://127.0.0.1:${port}/${relay}?token=${token}`

  async function register(relayKey: string, peers: string[]) {
    const now = Date.now()
    await store.putRegistration(
      {
        relayKey,
        peers,
        metadata: {},
        nonce: null,
        issuedAt: now,
        registeredAt: now,
        expiresAt: now + 60_000,
      },
      60,
    )
  }

  async function eose(port: number, relay: string, token: string) {
    const c = await rawClient(url(port, relay, token))
    c.send(['REQ', 's', { kinds: [1] }])
    await c.next((m) => Array.isArray(m) && m[0] === 'EOSE')
    return c
  }

  it('serves a relay registered in Redis from both processes, and follows the change feed', async () => {
    const [w1, w2] = workers as [TestWorker, TestWorker]
    // Both workers host their own relay key; the registration decides which one is asked.
    const relayKey = w1.relayKey
    const token = issueClientToken(SECRET, { relayKey, ttlMs: 60_000 })
    await register(relayKey, [w1.publicKey])
    const a = await eose(ports[0] as number, relayKey, token)
    const b = await eose(ports[1] as number, relayKey, token)
    a.ws.close()
    b.ws.close()

    // Re-point the relay at worker 2, which does not host that key: the second process's
    // cached registration must be dropped by the change feed, so the new session reaches w2.
    const changed = new Promise<void>((resolve) => {
      const off = store.subscribe((c) => {
        if (c.type === 'registration' && c.relayKey === relayKey) {
          off()
          resolve()
        }
      })
    })
    await register(relayKey, [w2.publicKey])
    // Redis has pushed the change to every subscriber by the time ours sees it; the
    // proxy handles its copy before the new connection below is even accepted.
    await changed
    const c = await rawClient(url(ports[1] as number, relayKey, token))
    c.send(['REQ', 's', { kinds: [1] }])
    const answer = await c.next(
      (m) => Array.isArray(m) && (m[0] === 'EOSE' || m[0] === 'NOTICE' || m[0] === 'CLOSED'),
    )
    // Answered in kind (issue 10.1): the REQ's own CLOSED, not a NOTICE.
    expect(answer).to.deep.equal(['CLOSED', 's', 'error: relay answered 404: relay not found'])
    c.ws.close()
  })

  it('closes live sessions in every process when the relay tokens are revoked', async () => {
    const relayKey = (workers[0] as TestWorker).relayKey
    await register(relayKey, [(workers[0] as TestWorker).publicKey])
    const token = issueClientToken(SECRET, { relayKey, ttlMs: 60_000 })
    const sessions = [
      await eose(ports[0] as number, relayKey, token),
      await eose(ports[1] as number, relayKey, token),
    ]
    await store.revokeTokens(relayKey)
    const codes = await Promise.all(sessions.map((s) => s.closed.then(([code]) => code)))
    expect(codes).to.deep.equal([4403, 4403])
  })

  it('closes sessions with 1001 and exits 0 on SIGTERM', async () => {
    const relayKey = (workers[0] as TestWorker).relayKey
    const token = issueClientToken(SECRET, { relayKey, ttlMs: 60_000 })
    const live = await eose(ports[0] as number, relayKey, token)
    const gw = proxies[0] as GatewayProcess
    const code = await gw.kill('SIGTERM')
    expect((await live.closed)[0]).to.equal(1001)
    expect(code).to.equal(0)
    expect(gw.logs.some((l) => l.msg === 'stopped')).to.equal(true)
  })
})

import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { issueClientToken } from '../../shared/auth/client-token.js'
import { WorkerSecretBox } from '../../shared/auth/worker-secret-box.js'
import { SignedAction } from '../../shared/registrar-api/signed-request.js'
import type { GatewayStore } from '../../shared/store/gateway-store.js'
import { MemoryStore } from '../../shared/store/memory-store.js'
import { RedisStore } from '../../shared/store/redis-store.js'
import { wsService } from '../../shared/tunnel/tunnel-wire.js'
import { startLocalWsRelay } from '../helpers/local-ws-relay.js'
import { nostrSession as session, refusal, served } from '../helpers/nostr-session.js'
import { startProxyStack } from '../helpers/proxy-stack.js'
import type { ProxyStack } from '../helpers/proxy-stack.js'
import { startRedis } from '../helpers/redis-server.js'
import type { TestRedis } from '../helpers/redis-server.js'
import {
  ManualClock,
  SECRET,
  makeRegistration,
  registrationBody,
  startRegistrar,
  tokenBody,
} from '../helpers/registrar-harness.js'
import type { RegistrarHarness } from '../helpers/registrar-harness.js'
import { call, register, relayUrl } from '../helpers/registrar-suite.js'
import type { Answer } from '../helpers/registrar-suite.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import { startWorker } from '../helpers/worker.js'
import type { TestWorker } from '../helpers/worker.js'

const ADMIN = { authorization: `Bearer admin-token-for-tenancy-acceptance-0123456789` }
const ACCOUNT_KEY = randomBytes(32).toString('hex')
const logger = pino({ level: 'silent' })

interface Account {
  workerId: string
  secret: string
}

// Issue 15's acceptance across both sides: the registrar's admin API, per-worker signatures and
// ownership, and the proxy verifying with the owner's secret; nostr-tools as the client.
for (const kind of ['MemoryStore', 'RedisStore'] as const) {
  describe(`tenancy acceptance: registrar + proxy (${kind})`, function () {
    this.timeout(60_000)
    let testnet: LocalTestnet
    let redis: TestRedis | null = null
    let registrarStore: GatewayStore
    let proxyStore: GatewayStore
    let registrar: RegistrarHarness
    let stack: ProxyStack
    const workers: TestWorker[] = []
    // Real time: the proxy checks lifetimes against its own clock.
    const clock = new ManualClock(Date.now())

    before(async () => {
      testnet = await startTestnet()
      if (kind === 'RedisStore') redis = await startRedis()
    })

    beforeEach(async () => {
      clock.t = Date.now()
      if (redis === null) {
        registrarStore = proxyStore = new MemoryStore()
      } else {
        const prefix = `acceptance:${randomBytes(6).toString('hex')}:`
        registrarStore = new RedisStore({ url: redis.url, prefix, logger })
        proxyStore = new RedisStore({ url: redis.url, prefix, logger })
      }
      registrar = startRegistrar({
        store: registrarStore,
        clock,
        options: { adminToken: ADMIN.authorization.slice(7), workerSecretKey: ACCOUNT_KEY },
      })
      stack = await startProxyStack(testnet, {
        store: proxyStore,
        proxy: { secret: SECRET, workerSecrets: new WorkerSecretBox(ACCOUNT_KEY) },
      })
    })

    afterEach(async () => {
      for (const w of workers.splice(0)) await w.close()
      await stack.close()
      await registrar.close()
      await proxyStore.close()
      if (registrarStore !== proxyStore) await registrarStore.close()
    })

    after(async () => {
      await redis?.stop()
      await testnet.destroy()
    })

    async function account(name: string): Promise<Account> {
      const answer = await call(registrar, {
        method: 'POST',
        url: '/api/admin/workers',
        headers: ADMIN,
        payload: { name },
      })
      expect(answer.status, JSON.stringify(answer.body)).to.equal(201)
      return { workerId: answer.body.workerId as string, secret: answer.body.secret as string }
    }

    function registerAs(who: Account | 'shared', fields: Record<string, unknown>) {
      const registration = makeRegistration(clock, {
        ...fields,
        ...(who === 'shared' ? {} : { workerId: who.workerId }),
      })
      return register(
        registrar,
        registrationBody(registration, who === 'shared' ? SECRET : who.secret),
      )
    }

    async function tokenAs(who: Account | 'shared', relayKey: string): Promise<Answer> {
      const payload =
        who === 'shared'
          ? tokenBody(SignedAction.TOKEN_ISSUE, relayKey, clock)
          : tokenBody(
              SignedAction.TOKEN_ISSUE,
              relayKey,
              clock,
              { workerId: who.workerId },
              who.secret,
            )
      return call(registrar, { method: 'POST', url: relayUrl(relayKey, '/tokens'), payload })
    }

    async function worker(): Promise<TestWorker> {
      const w = await startWorker(testnet)
      workers.push(w)
      return w
    }

    it("two accounts: A owns R; B and the shared secret cannot take it or mint for it; only A's tokens open it; disabling A ends it", async () => {
      const [a, b] = [await account('a'), await account('b')]
      const w = await worker()
      const relay = {
        relayKey: w.relayKey,
        peers: [w.publicKey],
        metadata: { gatewayPath: 'acc-r' },
      }
      expect((await registerAs(a, relay)).status).to.equal(200)

      const other = await worker()
      for (const [who, fields] of [
        [b, relay],
        [
          b,
          {
            relayKey: other.relayKey,
            peers: [other.publicKey],
            metadata: { gatewayPath: 'acc-r' },
          },
        ],
        ['shared', relay],
      ] as const) {
        const answer = await registerAs(who, fields)
        expect(answer.status, JSON.stringify(answer.body)).to.equal(403)
        expect(answer.body.code).to.equal('relay_owned')
      }
      expect((await tokenAs(b, w.relayKey)).body.code).to.equal('relay_owned')

      // Tokens B or the shared secret sign themselves: refused at the proxy.
      for (const secret of [b.secret, SECRET]) {
        const forged = issueClientToken(secret, { relayKey: w.relayKey, ttlMs: 60_000 })
        expect((await refusal(stack.url(w.relayKey, forged)))[0]).to.equal(4403)
        expect((await refusal(stack.url('acc-r', forged)))[0]).to.equal(4403)
      }

      const minted = await tokenAs(a, w.relayKey)
      expect(minted.status, JSON.stringify(minted.body)).to.equal(200)
      const token = minted.body.token as string
      await served(stack.url(w.relayKey, token))
      await served(stack.url('acc-r', token))

      const live = await session(stack.url('acc-r', token))
      expect(live.relay).to.not.equal(null)
      const disabled = await call(registrar, {
        method: 'DELETE',
        url: `/api/admin/workers/${a.workerId}`,
        headers: ADMIN,
      })
      expect(disabled.status, JSON.stringify(disabled.body)).to.equal(200)
      expect((await live.closed)[0]).to.equal(4403)
      expect((await refusal(stack.url(w.relayKey, token)))[0]).to.equal(4404)
      expect((await refusal(stack.url('acc-r', token)))[0]).to.equal(4404)
    })

    it("disabling A also ends A's tunnelled WebSocket sessions (4403)", async () => {
      const a = await account('a')
      const local = await startLocalWsRelay()
      try {
        const relayKey = randomBytes(32).toString('hex')
        const w = await startWorker(testnet, {
          relayKey,
          tunnels: { [wsService(relayKey)]: { port: local.port } },
        })
        workers.push(w)
        expect((await registerAs(a, { relayKey, peers: [w.publicKey] })).status).to.equal(200)
        let tunnels = 0
        stack.proxy.tunnels.on('open', () => tunnels++)
        // A warm link, so the session tunnels (a cold first one goes relay-v2).
        await stack.pool.acquire(w.publicKey)
        const minted = await tokenAs(a, relayKey)
        const live = await session(stack.url(relayKey, minted.body.token as string))
        expect(live.relay).to.not.equal(null)
        expect(tunnels).to.be.greaterThan(0)
        const disabled = await call(registrar, {
          method: 'DELETE',
          url: `/api/admin/workers/${a.workerId}`,
          headers: ADMIN,
        })
        expect(disabled.status, JSON.stringify(disabled.body)).to.equal(200)
        expect((await live.closed)[0]).to.equal(4403)
      } finally {
        await local.close()
      }
    })

    it('multi-tenant mode: the proxy takes no shared-secret token at all; accounts work', async () => {
      const a = await account('a')
      const [owned, unowned] = [await worker(), await worker()]
      const reg = (w: TestWorker) => ({ relayKey: w.relayKey, peers: [w.publicKey] })
      expect((await registerAs(a, reg(owned))).status).to.equal(200)
      expect((await registerAs('shared', reg(unowned))).status).to.equal(200)
      // The same store seen by a proxy in multi-tenant mode (no shared secret).
      const strict = await startProxyStack(testnet, {
        store: proxyStore,
        proxy: { secret: '', workerSecrets: new WorkerSecretBox(ACCOUNT_KEY) },
      })
      try {
        const legacy = issueClientToken(SECRET, { relayKey: unowned.relayKey, ttlMs: 60_000 })
        expect((await refusal(strict.url(unowned.relayKey, legacy)))[0]).to.equal(4403)
        const minted = await tokenAs(a, owned.relayKey)
        await served(strict.url(owned.relayKey, minted.body.token as string))
      } finally {
        await strict.close()
      }
    })

    it('legacy flow unchanged for a relay no account owns (shared secret)', async () => {
      await account('a')
      const w = await worker()
      const relay = {
        relayKey: w.relayKey,
        peers: [w.publicKey],
        metadata: { gatewayPath: 'legacy-r' },
      }
      expect((await registerAs('shared', relay)).status).to.equal(200)
      const minted = await tokenAs('shared', w.relayKey)
      expect(minted.status, JSON.stringify(minted.body)).to.equal(200)
      await served(stack.url('legacy-r', minted.body.token as string))
      // What a legacy worker mints itself works as before.
      await served(stack.url(w.relayKey, issueClientToken(SECRET, { relayKey: w.relayKey })))
    })
  })
}

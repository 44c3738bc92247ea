import { expect } from 'chai'
import { Redis } from 'ioredis'
import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { issueClientToken } from '../../shared/auth/client-token.js'
import { newWorkerId, newWorkerSecret } from '../../shared/auth/worker-credentials.js'
import { WorkerSecretBox } from '../../shared/auth/worker-secret-box.js'
import type { GatewayStore } from '../../shared/store/gateway-store.js'
import { MemoryStore } from '../../shared/store/memory-store.js'
import { RedisStore } from '../../shared/store/redis-store.js'
import type { PeerPool } from '../../shared/swarm/peer-pool.js'
import { ExampleRelay } from '../../shared/worker/example-relay.js'
import { RelayHost } from '../../shared/worker/relay-host.js'
import { nostrSession as session, refusal, served } from '../helpers/nostr-session.js'
import { SECRET, startProxyStack } from '../helpers/proxy-stack.js'
import type { ProxyStack } from '../helpers/proxy-stack.js'
import { startRedis } from '../helpers/redis-server.js'
import type { TestRedis } from '../helpers/redis-server.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import { startWorker } from '../helpers/worker.js'
import type { TestWorker } from '../helpers/worker.js'

const BOX_KEY = randomBytes(32).toString('hex')
const logger = pino({ level: 'silent' })

interface Account {
  workerId: string
  secret: string
}

/** Resolves once `pool[method]` has been called with `key` (a spy on the real pool). */
function calledWith(pool: PeerPool, method: 'allow' | 'disallow', key: string): Promise<void> {
  const original = pool[method].bind(pool)
  return new Promise((resolve) => {
    pool[method] = (keys: readonly string[]) => {
      original(keys)
      if (keys.includes(key)) {
        pool[method] = original
        resolve()
      }
    }
  })
}

/** Resolves with the outcome of the pool's first inbound link from `key`. */
function inbound(pool: PeerPool, key: string): Promise<string> {
  return new Promise((resolve) => {
    const on = (outcome: string, from: string) => {
      if (from !== key) return
      pool.off('inbound', on)
      resolve(outcome)
    }
    pool.on('inbound', on)
  })
}

for (const kind of ['MemoryStore', 'RedisStore'] as const) {
  describe(`tenancy through the proxy (${kind}, nostr-tools)`, function () {
    this.timeout(60_000)
    let testnet: LocalTestnet
    let redis: TestRedis | null = null
    /** The registrar's store, and the proxy's (another connection for Redis). */
    let writer: GatewayStore
    let reader: GatewayStore
    let stack: ProxyStack
    const box = new WorkerSecretBox(BOX_KEY)
    const closers: Array<() => Promise<unknown>> = []

    before(async () => {
      testnet = await startTestnet()
      if (kind === 'RedisStore') redis = await startRedis()
    })

    beforeEach(async () => {
      if (redis === null) {
        writer = reader = new MemoryStore()
      } else {
        const prefix = `tenancy:${randomBytes(6).toString('hex')}:`
        writer = new RedisStore({ url: redis.url, prefix, logger })
        reader = new RedisStore({ url: redis.url, prefix, logger })
      }
      stack = await startProxyStack(testnet, {
        store: reader,
        proxy: { workerSecrets: new WorkerSecretBox(BOX_KEY) },
      })
    })

    afterEach(async () => {
      for (const close of closers.splice(0).reverse()) await close()
      await stack.close()
      await reader.close()
      if (writer !== reader) await writer.close()
    })

    after(async () => {
      await redis?.stop()
      await testnet.destroy()
    })

    async function account(name: string): Promise<Account> {
      const workerId = newWorkerId()
      const secret = newWorkerSecret()
      await writer.createWorker({
        workerId,
        name,
        createdAt: Date.now(),
        disabledAt: null,
        sealedSecret: box.seal(workerId, secret),
      })
      return { workerId, secret }
    }

    function register(
      relayKey: string,
      peers: string[],
      owner: Account | null,
      gatewayPath?: string,
    ): Promise<void> {
      const now = Date.now()
      return writer.putRegistration(
        {
          relayKey,
          peers,
          metadata: gatewayPath === undefined ? {} : { gatewayPath },
          nonce: null,
          issuedAt: now,
          registeredAt: now,
          expiresAt: now + 60_000,
        },
        60,
        owner === null ? {} : { workerId: owner.workerId },
      )
    }

    async function worker(): Promise<TestWorker> {
      const w = await startWorker(testnet)
      closers.push(() => w.close())
      return w
    }

    const token = (secret: string, relayKey: string) =>
      issueClientToken(secret, { relayKey, ttlMs: 60_000 })

    it("serves the owner's tokens; another account's or the shared secret's are 4403 bad-signature", async () => {
      const [a, b] = [await account('a'), await account('b')]
      const w = await worker()
      await register(w.relayKey, [w.publicKey], a, 'owned-relay')
      for (const path of [w.relayKey, 'owned-relay']) {
        for (const secret of [b.secret, SECRET]) {
          expect(await refusal(stack.url(path, token(secret, w.relayKey)))).to.deep.equal([
            4403,
            'token bad-signature',
          ])
        }
        await served(stack.url(path, token(a.secret, w.relayKey)))
      }
    })

    it("the shared secret cannot take an owned relay over: refused, and it keeps its owner's worker", async () => {
      const a = await account('a')
      const w = await worker()
      await register(w.relayKey, [w.publicKey], a)
      const intruder = randomBytes(32).toString('hex')
      const err: unknown = await register(w.relayKey, [intruder], null).catch((e: unknown) => e)
      expect(err).to.have.property('code', 'RELAY_OWNED')
      expect(await reader.getRegistration(w.relayKey)).to.deep.include({
        peers: [w.publicKey],
        workerId: a.workerId,
      })
      await served(stack.url(w.relayKey, token(a.secret, w.relayKey)))
    })

    it('disabling an account closes its live sessions (4403) and its relays are unknown (4404) after', async () => {
      const [a, b] = [await account('a'), await account('b')]
      const [wa, wb] = [await worker(), await worker()]
      await register(wa.relayKey, [wa.publicKey], a, 'a-relay')
      await register(wb.relayKey, [wb.publicKey], b)
      const live = await session(stack.url(wa.relayKey, token(a.secret, wa.relayKey)))
      const bystander = await session(stack.url(wb.relayKey, token(b.secret, wb.relayKey)))
      expect(live.relay).to.not.equal(null)
      await served(stack.url(wa.relayKey, token(a.secret, wa.relayKey)))

      await writer.disableWorker(a.workerId)
      expect((await live.closed)[0]).to.equal(4403)
      for (const path of [wa.relayKey, 'a-relay']) {
        expect(await refusal(stack.url(path, token(a.secret, wa.relayKey)))).to.deep.equal([
          4404,
          'relay unknown',
        ])
      }
      // Another account's sessions go on.
      await served(stack.url(wb.relayKey, token(b.secret, wb.relayKey)))
      const alive = await Promise.race([bystander.closed, Promise.resolve('open')])
      expect(alive).to.equal('open')
      bystander.relay?.close()
    })

    it('an account sealed under another key: its relays are 4404 here, and that is counted', async () => {
      // The registrar's GATEWAY_WORKER_SECRET_KEY differs from this proxy's.
      const workerId = newWorkerId()
      const secret = newWorkerSecret()
      await writer.createWorker({
        workerId,
        name: 'elsewhere',
        createdAt: Date.now(),
        disabledAt: null,
        sealedSecret: new WorkerSecretBox('7'.repeat(64)).seal(workerId, secret),
      })
      const relayKey = randomBytes(32).toString('hex')
      await register(relayKey, [randomBytes(32).toString('hex')], { workerId, secret })
      expect(await refusal(stack.url(relayKey, token(secret, relayKey)))).to.deep.equal([
        4404,
        'relay unknown',
      ])
      const name = 'hypertuna_gateway_proxy_worker_secrets_unreadable_total'
      const counted = await stack.registry.getSingleMetric(name)?.get()
      expect(counted?.values.map((v) => v.value)).to.deep.equal([1])
    })

    it("legacy flow unchanged for an unowned relay; an account's secret is no key to it", async () => {
      const a = await account('a')
      const w = await worker()
      await register(w.relayKey, [w.publicKey], null, 'legacy-relay')
      await served(stack.url('legacy-relay', token(SECRET, w.relayKey)))
      expect(await refusal(stack.url(w.relayKey, token(a.secret, w.relayKey)))).to.deep.equal([
        4403,
        'token bad-signature',
      ])
    })

    if (kind === 'RedisStore') {
      it("closes a disabled account's sessions when the disable fell in a change-feed gap", async () => {
        const a = await account('a')
        const w = await worker()
        await register(w.relayKey, [w.publicKey], a)
        const live = await session(stack.url(w.relayKey, token(a.secret, w.relayKey)))
        expect(live.relay).to.not.equal(null)
        const resynced = new Promise<void>((resolve) => {
          const off = reader.subscribe((change) => {
            if (change.type !== 'resync') return
            off()
            resolve()
          })
        })
        // Every subscriber connection dropped, then the disable: only the resync can tell.
        const admin = new Redis((redis as TestRedis).url)
        closers.push(() => admin.quit())
        await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
        await writer.disableWorker(a.workerId)
        await resynced
        expect((await live.closed)[0]).to.equal(4403)
        expect((await refusal(stack.url(w.relayKey, token(a.secret, w.relayKey))))[0]).to.equal(
          4404,
        )
      })
    }

    describe('dial-out workers', () => {
      /** A kit-style worker that dials OUT to the gateway and serves relay-v2 on that link. */
      async function dialOutWorker() {
        const swarm = testnet.createSwarm()
        const relay = new ExampleRelay()
        const relayKey = randomBytes(32).toString('hex')
        const host = new RelayHost({ swarm, logger, relays: [{ relayKey, backend: relay }] })
        await host.start()
        closers.push(async () => {
          await host.close()
          relay.close()
          await swarm.destroy()
        })
        return {
          key: host.publicKey,
          relayKey,
          dial(gatewayKey: string) {
            const stream = swarm.dht.connect(Buffer.from(gatewayKey, 'hex'), {
              keyPair: swarm.keyPair,
            })
            stream.on('error', () => {})
            host.serve(stream)
          },
        }
      }

      it('accepts a worker the owner listed before any session used its relay; refuses others', async () => {
        const a = await account('a')
        const listed = await dialOutWorker()
        const allowed = calledWith(stack.pool, 'allow', listed.key)
        await register(listed.relayKey, [listed.key], a)
        await allowed
        const accepted = inbound(stack.pool, listed.key)
        listed.dial(stack.pool.publicKey)
        expect(await accepted).to.equal('accepted')
        expect(stack.proxy.sessions.size).to.equal(0)

        const stranger = await dialOutWorker()
        const refused = inbound(stack.pool, stranger.key)
        stranger.dial(stack.pool.publicKey)
        expect(await refused).to.equal('refused')

        // The first session finds the worker's own link: the pool never dials it.
        await served(stack.url(listed.relayKey, token(a.secret, listed.relayKey)))
        expect(stack.pool.peer(listed.key).stats.inbound).to.equal(true)
      })

      it("refuses a worker again once its owner's account is disabled", async () => {
        const a = await account('a')
        const w = await dialOutWorker()
        const allowed = calledWith(stack.pool, 'allow', w.key)
        await register(w.relayKey, [w.key], a)
        await allowed
        const disallowed = calledWith(stack.pool, 'disallow', w.key)
        await writer.disableWorker(a.workerId)
        await disallowed
        const outcome = inbound(stack.pool, w.key)
        w.dial(stack.pool.publicKey)
        expect(await outcome).to.equal('refused')
      })
    })
  })
}

import { expect } from 'chai'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import type HyperDHT from 'hyperdht'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { ErrorCode } from '../../shared/errors.js'
import type { JsonObject } from '../../shared/protocol/wire.js'
import { PeerPool } from '../../shared/swarm/peer-pool.js'
import type { PeerPoolOptions } from '../../shared/swarm/peer-pool.js'
import type { PeerState } from '../../shared/swarm/select-peer.js'
import { LegacyPeer } from '../helpers/legacy-peer.js'
import { note } from '../helpers/nostr.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import { startWorker } from '../helpers/worker.js'
import type { TestWorker } from '../helpers/worker.js'

const LEGACY_CAPS = ['http', 'websocket', 'health']
const FAST = {
  healthIntervalMs: 150,
  healthTimeoutMs: 250,
  unhealthyAfter: 2,
  downAfter: 4,
  backoff: { minMs: 100, maxMs: 1_000 },
  openTimeoutMs: 10_000,
}

function post(relayKey: string, connectionKey: string, message: unknown) {
  return {
    method: 'POST',
    path: `/post/relay/${relayKey}`,
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify({ message, connectionKey })),
  }
}

function poll(relayKey: string, connectionKey: string) {
  return { method: 'GET', path: `/get/relay/${relayKey}/${connectionKey}` }
}

function lines(body: Buffer | string | null): unknown[] {
  return String(body ?? '')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as unknown)
}

const ck = () => randomBytes(16).toString('hex')

function waitState(pool: PeerPool, key: string, state: PeerState): Promise<void> {
  if (pool.snapshot(key).state === state) return Promise.resolve()
  return new Promise((resolve) => {
    const on = (k: string, s: PeerState) => {
      if (k === key && s === state) {
        pool.off('state', on)
        resolve()
      }
    }
    pool.on('state', on)
  })
}

describe('PeerPool on the loopback testnet', function () {
  this.timeout(30_000)
  let testnet: LocalTestnet
  const closers: Array<() => Promise<void>> = []

  function makePool(opts: Partial<PeerPoolOptions> = {}): {
    pool: PeerPool
    registry: Registry
    dht: HyperDHT
  } {
    const swarm = testnet.createSwarm()
    const registry = new Registry()
    const pool = new PeerPool({
      swarm,
      logger: pino({ level: 'silent' }),
      registry,
      ...FAST,
      ...opts,
    })
    closers.push(() => pool.close())
    return { pool, registry, dht: swarm.dht }
  }

  async function worker(opts: Parameters<typeof startWorker>[1] = {}): Promise<TestWorker> {
    const w = await startWorker(testnet, opts)
    closers.push(() => w.close())
    return w
  }

  before(async () => {
    testnet = await startTestnet()
  })

  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close()
  })

  after(async () => {
    await testnet.destroy()
  })

  describe('with a RelayHost worker', () => {
    it('round-trips a client message through /post/relay', async () => {
      const w = await worker()
      const { pool } = makePool()
      await pool.start()
      const res = await pool.request(
        w.publicKey,
        post(w.relayKey, ck(), ['REQ', 's1', { kinds: [1] }]),
      )
      expect(res.statusCode).to.equal(200)
      expect(lines(res.body)).to.deep.equal([['EOSE', 's1']])
    })

    it('delivers queued output through /get/relay polling when the gateway does not ask for push', async () => {
      const w = await worker({ push: true })
      const { pool } = makePool({ capabilities: LEGACY_CAPS })
      const frames: JsonObject[] = []
      pool.on('wsframe', (_k: string, f: JsonObject) => frames.push(f))
      await pool.start()
      const subscriber = ck()
      await pool.request(w.publicKey, post(w.relayKey, subscriber, ['REQ', 's', { kinds: [1] }]))
      const ev = note('polled')
      const ok = await pool.request(w.publicKey, post(w.relayKey, ck(), ['EVENT', ev]))
      expect(lines(ok.body)).to.deep.equal([['OK', ev.id, true, '']])
      const polled = await pool.request(w.publicKey, poll(w.relayKey, subscriber))
      expect(JSON.parse(String(polled.body))).to.deep.equal([['EVENT', 's', ev]])
      const again = await pool.request(w.publicKey, poll(w.relayKey, subscriber))
      expect(JSON.parse(String(again.body))).to.deep.equal([])
      expect(frames).to.deep.equal([])
    })

    it('pushes output as wsframes when both sides advertise push, and honours the close frame', async () => {
      const w = await worker({ push: true })
      const { pool } = makePool()
      await pool.start()
      const subscriber = ck()
      await pool.request(w.publicKey, post(w.relayKey, subscriber, ['REQ', 's', { kinds: [1] }]))
      expect(pool.peer(w.publicKey).supports('push')).to.equal(true)
      expect(pool.peer(w.publicKey).supports('text-body')).to.equal(true)
      const pushed = once(pool, 'wsframe') as Promise<[string, JsonObject]>
      const ev = note('pushed')
      await pool.request(w.publicKey, post(w.relayKey, ck(), ['EVENT', ev]))
      const [from, frame] = await pushed
      expect(from).to.equal(w.publicKey)
      expect(frame.connectionKey).to.equal(subscriber)
      expect(JSON.parse(frame.data as string)).to.deep.equal(['EVENT', 's', ev])
      const polled = await pool.request(w.publicKey, poll(w.relayKey, subscriber))
      expect(JSON.parse(String(polled.body))).to.deep.equal([])

      expect(w.relay.subscriptions(subscriber)).to.deep.equal(['s'])
      pool.sendWsFrame(w.publicKey, { connectionKey: subscriber, type: 'close' })
      // Same channel, same order: once /health answers, the close frame was handled.
      await pool.request(w.publicKey, { method: 'GET', path: '/health' })
      expect(w.relay.subscriptions(subscriber)).to.deep.equal([])
    })

    it('never pushes to a gateway when the worker does not advertise push', async () => {
      const w = await worker({ push: false })
      const { pool } = makePool()
      const frames: JsonObject[] = []
      pool.on('wsframe', (_k: string, f: JsonObject) => frames.push(f))
      await pool.start()
      const subscriber = ck()
      await pool.request(w.publicKey, post(w.relayKey, subscriber, ['REQ', 's', { kinds: [1] }]))
      expect(pool.peer(w.publicKey).supports('push')).to.equal(false)
      const ev = note('not pushed')
      await pool.request(w.publicKey, post(w.relayKey, ck(), ['EVENT', ev]))
      const polled = await pool.request(w.publicKey, poll(w.relayKey, subscriber))
      expect(JSON.parse(String(polled.body))).to.deep.equal([['EVENT', 's', ev]])
      expect(frames).to.deep.equal([])
    })

    it('shares one dial among twenty concurrent first requests to a cold peer', async () => {
      const w = await worker()
      const { pool, registry, dht } = makePool()
      let dials = 0
      const connect = dht.connect.bind(dht)
      dht.connect = (...args: Parameters<HyperDHT['connect']>) => {
        dials++
        return connect(...args)
      }
      await pool.start()
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          pool.request(w.publicKey, { method: 'GET', path: '/health' }),
        ),
      )
      expect(results.map((r) => r.statusCode)).to.deep.equal(Array(20).fill(200))
      expect(dials).to.equal(1)
      const metric = await registry.getSingleMetric('hypertuna_gateway_pool_dials_total')?.get()
      expect(metric?.values).to.deep.equal([{ value: 1, labels: { outcome: 'ok' } }])
    })

    it('rejects a request to an unreachable key with PEER_UNREACHABLE', async () => {
      const { pool } = makePool({ openTimeoutMs: 1_500 })
      await pool.start()
      const err = await pool
        .request(randomBytes(32).toString('hex'), { method: 'GET', path: '/health' })
        .then(
          () => null,
          (e: unknown) => e,
        )
      expect(err).to.have.property('code', ErrorCode.PEER_UNREACHABLE)
    })
  })

  describe('with a legacy five-slot worker', () => {
    it('drives requests and health checks, and never sends it telemetry', async () => {
      const peer = await new LegacyPeer(testnet).start()
      closers.push(() => peer.close())
      const { pool } = makePool()
      await pool.start()
      const res = await pool.request(peer.publicKey, { method: 'GET', path: '/drive/x/y' })
      expect(JSON.parse(String(res.body))).to.deep.equal({ echo: '/drive/x/y' })
      const conn = pool.peer(peer.publicKey)
      expect(conn.supports('push')).to.equal(false)
      expect(conn.channel?.sendTelemetry({ hello: 1 })).to.equal(false)
      const health = await conn.channel?.healthCheck()
      expect(health?.status).to.equal('healthy')
      expect(peer.handshakes[0]).to.include({ role: 'gateway', isGateway: true, isServer: false })
      expect(peer.requests.some((r) => r.path === '/identify-gateway')).to.equal(true)
      // A legacy peer never negotiated text-body: bodies reach it as number arrays.
      const identify = peer.requests.find((r) => r.path === '/identify-gateway')
      expect(Array.isArray(identify?.body)).to.equal(true)
    })

    it('marks a worker that stops answering health checks unhealthy, then down', async () => {
      const peer = await new LegacyPeer(testnet).start()
      closers.push(() => peer.close())
      const { pool } = makePool()
      await pool.start()
      await pool.acquire(peer.publicKey)
      const unhealthy = waitState(pool, peer.publicKey, 'unhealthy')
      const down = waitState(pool, peer.publicKey, 'down')
      peer.answerHealth = false
      await unhealthy
      await down
    })
  })

  describe('whenReady and warm', () => {
    it('dials every worker of a relay once one is selected, so failover lands on a warm link', async () => {
      const a = await new LegacyPeer(testnet).start()
      const b = await new LegacyPeer(testnet).start()
      closers.push(
        () => a.close(),
        () => b.close(),
      )
      const { pool } = makePool()
      await pool.start()
      const keys = [a.publicKey, b.publicKey]
      const bothReady = Promise.all(keys.map((k) => waitState(pool, k, 'ready')))
      const picked = pool.select(keys) as string
      pool.lease(picked)
      await bothReady
      const other = keys.find((k) => k !== picked) as string
      expect(await pool.whenReady(keys, 0, new Set([picked]))).to.equal(other)
    })

    it('dials every key at once and resolves with a ready one; null when none comes up in time', async () => {
      const a = await new LegacyPeer(testnet).start()
      closers.push(() => a.close())
      const { pool } = makePool()
      await pool.start()
      const dead = randomBytes(32).toString('hex')
      const keys = [dead, a.publicKey]
      expect(await pool.whenReady(keys, 10_000)).to.equal(a.publicKey)
      expect(pool.snapshot(dead).state).to.be.oneOf(['connecting', 'down'])
      expect(await pool.whenReady([dead], 200)).to.equal(null)
      expect(await pool.whenReady(keys, 0, new Set([a.publicKey]))).to.equal(null)
      const pending = pool.whenReady([dead], 60_000)
      await pool.close()
      expect(await pending).to.equal(null)
    })

    it('serves 50 concurrent waiters with one listener: all resolve or time out, no warning', async () => {
      const a = await new LegacyPeer(testnet).start()
      closers.push(() => a.close())
      const { pool } = makePool()
      await pool.start()
      const warnings: Error[] = []
      const onWarning = (w: Error) => warnings.push(w)
      process.on('warning', onWarning)
      try {
        const listeners = pool.listenerCount('state')
        const dead = randomBytes(32).toString('hex')
        // Cold: nothing is dialled yet, so every waiter below waits.
        const live = Array.from({ length: 50 }, () => pool.whenReady([a.publicKey, dead], 10_000))
        const late = Array.from({ length: 50 }, () => pool.whenReady([dead], 300))
        expect(pool.listenerCount('state')).to.equal(listeners)
        expect(await Promise.all(live)).to.deep.equal(Array(50).fill(a.publicKey))
        expect(await Promise.all(late)).to.deep.equal(Array(50).fill(null))
        // Warnings are emitted on a later tick.
        await new Promise((resolve) => setImmediate(resolve))
        expect(warnings.map((w) => w.name)).to.not.include('MaxListenersExceededWarning')
        expect(pool.listenerCount('state')).to.equal(listeners)
      } finally {
        process.off('warning', onWarning)
      }
    })
  })

  describe('selection across two workers of one relay', () => {
    it('prefers the healthy worker and spreads sessions by load', async () => {
      const a = await new LegacyPeer(testnet).start()
      const b = await new LegacyPeer(testnet).start()
      closers.push(
        () => a.close(),
        () => b.close(),
      )
      const { pool } = makePool({ unhealthyAfter: 2, downAfter: 1_000 })
      await pool.start()
      await Promise.all([pool.acquire(a.publicKey), pool.acquire(b.publicKey)])
      const keys = [a.publicKey, b.publicKey]

      const picks: string[] = []
      for (let i = 0; i < 6; i++) {
        const key = pool.select(keys) as string
        picks.push(key)
        pool.lease(key)
      }
      expect(picks.filter((k) => k === a.publicKey)).to.have.length(3)
      expect(picks.filter((k) => k === b.publicKey)).to.have.length(3)

      const unhealthy = waitState(pool, b.publicKey, 'unhealthy')
      b.answerHealth = false
      await unhealthy
      for (let i = 0; i < 3; i++) pool.lease(a.publicKey)
      expect(pool.select(keys)).to.equal(a.publicKey)
      expect(pool.select(keys, new Set([a.publicKey]))).to.equal(b.publicKey)
    })
  })
})

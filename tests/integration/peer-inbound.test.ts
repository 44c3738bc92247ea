import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { Server as RelayServer } from 'blind-relay'
import HyperDHT from 'hyperdht'
import type { NoiseSecretStream as Stream } from 'hyperdht'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { PeerPool } from '../../shared/swarm/peer-pool.js'
import type { PeerPoolOptions } from '../../shared/swarm/peer-pool.js'
import type { PeerState } from '../../shared/swarm/select-peer.js'
import { ExampleRelay } from '../../shared/worker/example-relay.js'
import { RelayHost } from '../../shared/worker/relay-host.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'

/** What HyperDHT's connect returns when punching fails: an error with a code, then close. */
class FailedDial extends EventEmitter {
  readonly opened = Promise.resolve(false)
  readonly rawStream = null
  destroyed = false

  fail(code: string): void {
    this.emit('error', Object.assign(new Error(code), { code }))
    this.destroy()
  }

  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    this.emit('close')
  }
}

function waitState(pool: PeerPool, key: string, state: PeerState): Promise<void> {
  if (pool.snapshot(key).state === state) return Promise.resolve()
  return new Promise((resolve) => {
    const on = (k: string, s: PeerState) => {
      if (k !== key || s !== state) return
      pool.off('state', on)
      resolve()
    }
    pool.on('state', on)
  })
}

async function counter(registry: Registry, name: string, labels: Record<string, string>) {
  const metric = await registry.getSingleMetric(name)?.get()
  const match = metric?.values.find((v) =>
    Object.entries(labels).every(([k, l]) => v.labels[k] === l),
  )
  return match?.value ?? 0
}

describe('PeerPool: inbound links and the blind-relay fallback (loopback testnet)', function () {
  this.timeout(30_000)
  let testnet: LocalTestnet
  const closers: Array<() => Promise<unknown>> = []

  before(async () => {
    testnet = await startTestnet()
  })

  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close()
  })

  after(async () => {
    await testnet.destroy()
  })

  async function makePool(opts: Partial<PeerPoolOptions> = {}) {
    const swarm = testnet.createSwarm()
    const registry = new Registry()
    const pool = new PeerPool({
      swarm,
      logger: pino({ level: 'silent' }),
      registry,
      ...opts,
    })
    closers.push(() => pool.close())
    let dials = 0
    const connect = swarm.dht.connect.bind(swarm.dht)
    swarm.dht.connect = (...args: Parameters<HyperDHT['connect']>) => {
      dials++
      return connect(...args)
    }
    await pool.start()
    return { pool, registry, swarm, dials: () => dials }
  }

  /** A kit-style worker that dials OUT to the gateway and serves relay-v2 on that link. */
  async function dialOutWorker(): Promise<{ key: string; dial(gatewayKey: string): void }> {
    const swarm = testnet.createSwarm()
    const relay = new ExampleRelay()
    const host = new RelayHost({
      swarm,
      logger: pino({ level: 'silent' }),
      relays: [{ relayKey: randomBytes(32).toString('hex'), backend: relay }],
      push: true,
    })
    await host.start()
    closers.push(async () => {
      await host.close()
      relay.close()
    })
    return {
      key: host.publicKey,
      dial(gatewayKey) {
        const stream = swarm.dht.connect(Buffer.from(gatewayKey, 'hex'), { keyPair: swarm.keyPair })
        stream.on('error', () => {})
        host.serve(stream)
      },
    }
  }

  it('accepts an inbound link from a registered key exactly like a dialled one', async () => {
    const { pool, registry, dials } = await makePool()
    const worker = await dialOutWorker()
    pool.allow([worker.key])
    const ready = waitState(pool, worker.key, 'ready')
    worker.dial(pool.publicKey)
    await ready
    expect(pool.peer(worker.key).stats.inbound).to.equal(true)
    const res = await pool.request(worker.key, { method: 'GET', path: '/health' })
    expect(res.statusCode).to.equal(200)
    expect(await pool.whenReady([worker.key], 0)).to.equal(worker.key)
    expect(dials()).to.equal(0)
    expect(
      await counter(registry, 'hypertuna_gateway_pool_inbound_total', { outcome: 'accepted' }),
    ).to.equal(1)
  })

  it('refuses an inbound link whose Noise key is not a registered peer', async () => {
    const { pool, registry } = await makePool()
    const stranger = await dialOutWorker()
    const refused = new Promise((resolve) => pool.once('inbound', resolve))
    stranger.dial(pool.publicKey)
    expect(await refused).to.equal('refused')
    expect(pool.snapshot(stranger.key).state).to.equal(null)
    expect(
      await counter(registry, 'hypertuna_gateway_pool_inbound_total', { outcome: 'refused' }),
    ).to.equal(1)
  })

  it('retries a direct dial that failed to punch through a blind relay (relayThrough)', async () => {
    // The relay: blind-relay on its own DHT server of a loopback node.
    const relayNode = testnet.createSwarm().dht
    const relayKeys = HyperDHT.keyPair(randomBytes(32))
    const relay = new RelayServer({
      createStream: (opts) => relayNode.createRawStream({ ...(opts as object), framed: true }),
    })
    let reached: (key: string) => void = () => {}
    const relayReached = new Promise<string>((resolve) => (reached = resolve))
    const server = relayNode.createServer({}, (socket) => {
      socket.on('error', () => {})
      reached(socket.remotePublicKey.toString('hex'))
      relay.accept(socket, { id: socket.remotePublicKey }).on('error', () => {})
    })
    await server.listen(relayKeys)
    closers.push(async () => {
      await server.close()
      await relay.close()
    })

    const worker = await dialOutWorker()
    const { pool, registry, swarm } = await makePool({
      relays: [relayKeys.publicKey.toString('hex')],
    })
    // Loopback always punches; make the direct attempt fail as a double-NAT one does.
    const connect = swarm.dht.connect.bind(swarm.dht)
    const paths: string[] = []
    swarm.dht.connect = (publicKey, opts) => {
      // HyperDHT dials the relay itself through this method too: only the worker's punch fails.
      if (publicKey.toString('hex') !== worker.key) return connect(publicKey, opts)
      paths.push(opts?.relayThrough ? 'relay' : 'direct')
      if (opts?.relayThrough) return connect(publicKey, opts)
      const failed = new FailedDial()
      setImmediate(() => failed.fail('HOLEPUNCH_ABORTED'))
      return failed as unknown as Stream
    }
    expect(await pool.whenReady([worker.key], 20_000)).to.equal(worker.key)
    expect(paths).to.deep.equal(['direct', 'relay'])
    const conn = pool.peer(worker.key)
    expect(conn.stats.relayed).to.equal(true)
    // HyperDHT went to the relay as negotiated. On loopback the direct path of that same
    // attempt wins the race, so pairing itself is left to the netns matrix (issue 16.5).
    // Both ends go to the relay (the worker learns it from the handshake); either may be first.
    expect(await relayReached).to.be.oneOf([pool.publicKey, worker.key])
    expect(relay.stats.sessions.accepted).to.be.at.least(1)
    const res = await pool.request(worker.key, { method: 'GET', path: '/health' })
    expect(res.statusCode).to.equal(200)
    expect(
      await counter(registry, 'hypertuna_gateway_pool_dial_failures_total', {
        code: 'HOLEPUNCH_ABORTED',
        path: 'direct',
      }),
    ).to.equal(1)
  })
})

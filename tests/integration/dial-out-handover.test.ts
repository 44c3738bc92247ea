import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import type { NoiseSecretStream } from 'hyperdht'
import type Hyperswarm from 'hyperswarm'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import type { JsonObject } from '../../shared/protocol/wire.js'
import { PeerPool } from '../../shared/swarm/peer-pool.js'
import type { PeerState } from '../../shared/swarm/select-peer.js'
import type { RelayBackend } from '../../shared/worker/relay-backend.js'
import { RelayHost } from '../../shared/worker/relay-host.js'
import type { RelayHostOptions } from '../../shared/worker/relay-host.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'

const RELAY = randomBytes(32).toString('hex')
/** Sessions: one keeps a push in flight at every moment, one pushes a burst. */
const CHAIN = randomBytes(16).toString('hex')
const BURST = randomBytes(16).toString('hex')
const BURST_SIZE = 200
const TAIL = 20

/** Output on demand: the test decides when the relay has something for a session. */
class ScriptedBackend implements RelayBackend {
  #listener: ((key: string, line: string) => void) | null = null
  handleMessage(_key: string, message: unknown): string[] {
    const [type, sub] = message as [string, string]
    return type === 'REQ' ? [JSON.stringify(['EOSE', sub])] : []
  }
  onOutput(listener: (key: string, line: string) => void): () => void {
    this.#listener = listener
    return () => (this.#listener = null)
  }
  closeConnection(): void {}
  emit(key: string, line: string): void {
    this.#listener?.(key, line)
  }
}

function post(connectionKey: string, message: unknown) {
  return {
    method: 'POST',
    path: `/post/relay/${RELAY}`,
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify({ message, connectionKey })),
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

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

// With --dial-out the pool dials a kit worker while the worker dials the gateway; the pool
// keeps one link per worker and replaces its own with the worker's. Whatever the worker wrote
// into the replaced link before it learned of the switch must still reach the gateway.
describe('dial-out: pushes written into a link the gateway replaces (loopback testnet)', function () {
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

  async function setup(hostOpts: Partial<RelayHostOptions> = {}) {
    const registry = new Registry()
    const pool = new PeerPool({
      swarm: testnet.createSwarm(),
      logger: pino({ level: 'silent' }),
      registry,
      healthIntervalMs: 60_000,
    })
    closers.push(() => pool.close())
    await pool.start()
    const backend = new ScriptedBackend()
    const swarm: Hyperswarm = testnet.createSwarm()
    const host = new RelayHost({
      swarm,
      logger: pino({ level: 'silent' }),
      relays: [{ relayKey: RELAY, backend }],
      ...hostOpts,
    })
    closers.push(() => host.close())
    // The worker's end of the gateway's own dial: the link that will be replaced.
    const dialled = new Promise<NoiseSecretStream>((resolve) =>
      swarm.once('connection', (s: NoiseSecretStream) => resolve(s)),
    )
    await host.start()
    return { pool, registry, backend, host, dialled }
  }

  it('delivers every push the worker wrote into the replaced link, once and in order per session', async () => {
    const { pool, registry, backend, host, dialled } = await setup()
    // Link one: the gateway dials the registered worker.
    pool.warm([host.publicKey])
    await waitState(pool, host.publicKey, 'ready')
    const conn = pool.peer(host.publicKey)
    const first = conn.link
    const handovers: string[] = []
    conn.on('handover', (outcome: string) => handovers.push(outcome))
    const oldAtWorker = await dialled
    // Its end may be reset (an error) before it closes.
    oldAtWorker.on('error', () => {})
    const closed = new Promise((resolve) => oldAtWorker.once('close', resolve))
    expect(first).to.not.equal(null)
    for (const key of [CHAIN, BURST]) {
      const res = await pool.request(host.publicKey, post(key, ['REQ', key.slice(0, 8), {}]))
      expect(res.statusCode).to.equal(200)
    }

    const sent = new Map<string, number>([
      [CHAIN, 0],
      [BURST, 0],
    ])
    const delivered = new Map<string, number[]>([
      [CHAIN, []],
      [BURST, []],
    ])
    const push = (key: string, last = false) => {
      const seq = sent.get(key) as number
      sent.set(key, seq + 1)
      backend.emit(key, JSON.stringify(['EVENT', key.slice(0, 8), { seq, last }]))
    }
    const lastSeen = new Map<string, () => void>()
    const tails = [CHAIN, BURST].map(
      (key) => new Promise<void>((resolve) => lastSeen.set(key, resolve)),
    )
    pool.on('wsframe', (_peer: string, frame: JsonObject) => {
      const key = frame.connectionKey as string
      const event = (JSON.parse(frame.data as string) as [string, string, JsonObject])[2]
      delivered.get(key)?.push(event.seq as number)
      if (event.last === true) lastSeen.get(key)?.()
      // One push in flight on the gateway's own link at every moment until the pool leaves
      // it: whenever the switch comes, something written into the old link is on its way.
      if (key === CHAIN && conn.link === first && event.last !== true) push(CHAIN)
    })
    push(CHAIN)

    // Link two: the worker dials the gateway; once it is up, the worker pushes a burst
    // into the link its sessions posted on, as a relay fanning out an event would.
    const links = host.dialGateways({ gatewayKeys: [pool.publicKey], relays: [] })
    links.once('link', () => {
      for (let i = 0; i < BURST_SIZE; i++) push(BURST)
    })
    // The worker sees the gateway's link go, then both sessions push on the new one.
    await closed
    expect(conn.link).to.not.equal(first)
    expect(conn.link).to.not.equal(null)
    for (let i = 0; i < TAIL; i++) {
      push(CHAIN, i === TAIL - 1)
      push(BURST, i === TAIL - 1)
    }
    await Promise.all(tails)

    const report = (key: string) => {
      const got = delivered.get(key) as number[]
      const all = range(sent.get(key) as number)
      return { sent: all.length, lost: all.filter((seq) => !got.includes(seq)), got }
    }
    const chain = report(CHAIN)
    const burst = report(BURST)
    const lost = (r: typeof chain) =>
      `${r.lost.length} of ${r.sent} lost (seq ${r.lost.slice(0, 5).join(', ')}${r.lost.length > 5 ? ', ...' : ''})`
    expect(
      { chain: chain.lost.length, burst: burst.lost.length },
      `pushes never delivered: chain ${lost(chain)}; burst ${lost(burst)}`,
    ).to.deep.equal({ chain: 0, burst: 0 })
    // Once each, in the order the worker wrote them, per session.
    expect(chain.got).to.deep.equal(range(chain.sent))
    expect(burst.got).to.deep.equal(range(burst.sent))
    expect(sent.get(CHAIN)).to.be.greaterThan(TAIL)
    // Drained and acknowledged, not cut off by the grace period.
    expect(handovers).to.deep.equal(['acked'])
    const metric = await registry.getSingleMetric('hypertuna_gateway_pool_handovers_total')?.get()
    expect(metric?.values.map((v) => [v.labels.outcome, v.value])).to.deep.equal([['acked', 1]])
  })
})

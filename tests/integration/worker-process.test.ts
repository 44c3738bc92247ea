import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { PeerPool } from '../../shared/swarm/peer-pool.js'
import type { PeerState } from '../../shared/swarm/select-peer.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import { spawnWorker } from '../helpers/worker-process.js'
import type { WorkerProcess } from '../helpers/worker-process.js'

const HEALTH = { healthIntervalMs: 200, healthTimeoutMs: 300, unhealthyAfter: 2, downAfter: 3 }
// Worst case from the last good check: downAfter x (interval + timeout), plus one interval of slack.
const HEALTH_WINDOW_MS =
  HEALTH.downAfter * (HEALTH.healthIntervalMs + HEALTH.healthTimeoutMs) + HEALTH.healthIntervalMs

function nextState(pool: PeerPool, key: string, state: PeerState): Promise<number> {
  const started = Date.now()
  return new Promise((resolve) => {
    const on = (k: string, s: PeerState) => {
      if (k !== key || s !== state) return
      pool.off('state', on)
      resolve(Date.now() - started)
    }
    pool.on('state', on)
  })
}

describe('npm run worker as a child process', function () {
  this.timeout(60_000)
  let testnet: LocalTestnet
  let pool: PeerPool
  const workers: WorkerProcess[] = []

  before(async () => {
    testnet = await startTestnet()
  })

  beforeEach(() => {
    pool = new PeerPool({
      swarm: testnet.createSwarm(),
      logger: pino({ level: 'silent' }),
      registry: new Registry(),
      ...HEALTH,
      backoff: { minMs: 100, maxMs: 500 },
      openTimeoutMs: 3_000,
    })
  })

  afterEach(async () => {
    await pool.close()
    for (const w of workers.splice(0)) await w.kill('SIGKILL')
  })

  after(async () => {
    await testnet.destroy()
  })

  it('prints its key first, serves the pool, and stops cleanly on SIGTERM', async () => {
    const relayKey = randomBytes(32).toString('hex')
    const w = await spawnWorker(testnet.bootstrap, { WORKER_RELAY_KEY: relayKey })
    workers.push(w)
    await pool.start()
    const res = await pool.request(w.publicKey, { method: 'GET', path: '/health' })
    expect(res.statusCode).to.equal(200)
    expect(await w.kill('SIGTERM')).to.equal(0)
  })

  it('refuses a bad relay key with a clear message and exit code 1', async () => {
    const err = await spawnWorker(testnet.bootstrap, { WORKER_RELAY_KEY: 'nope' }).then(
      () => null,
      (e: Error) => e,
    )
    expect(err?.message).to.match(/exited \(1\).*WORKER_RELAY_KEY/s)
  })

  it('is marked unhealthy then down after SIGKILL, and ready again after a restart with the same key', async () => {
    const seed = randomBytes(32).toString('hex')
    const first = await spawnWorker(testnet.bootstrap, { WORKER_SEED: seed })
    workers.push(first)
    await pool.start()
    await pool.acquire(first.publicKey)
    pool.lease(first.publicKey)
    expect(pool.snapshot(first.publicKey).state).to.equal('ready')

    const unhealthy = nextState(pool, first.publicKey, 'unhealthy')
    const down = nextState(pool, first.publicKey, 'down')
    await first.kill('SIGKILL')
    await unhealthy
    const downAfterMs = await down
    // Generous slack for a loaded CI machine; the point is health checks, not a 30 s request timeout.
    expect(downAfterMs).to.be.at.most(HEALTH_WINDOW_MS + 1_000)

    const ready = nextState(pool, first.publicKey, 'ready')
    const second = await spawnWorker(testnet.bootstrap, { WORKER_SEED: seed })
    workers.push(second)
    expect(second.publicKey).to.equal(first.publicKey)
    await ready
    const res = await pool.request(second.publicKey, { method: 'GET', path: '/health' })
    expect(res.statusCode).to.equal(200)
  })
})

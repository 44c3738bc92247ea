import { expect } from 'chai'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { ErrorCode } from '../../shared/errors.js'
import { PeerPool } from '../../shared/swarm/peer-pool.js'
import type { PeerState } from '../../shared/swarm/select-peer.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import { spawnWorker } from '../helpers/worker-process.js'
import type { WorkerProcess } from '../helpers/worker-process.js'

// The requirement (issue 9.9) is 3 s; one more second of slack for a loaded CI machine.
const NOTICED_WITHIN_MS = 4_000

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

// Production timings (health checks every 5 s): the link probe alone must notice.
describe('link probe with a worker process (default pool policy)', function () {
  this.timeout(60_000)
  let testnet: LocalTestnet
  let pool: PeerPool
  let registry: Registry
  const workers: WorkerProcess[] = []

  before(async () => {
    testnet = await startTestnet()
  })

  beforeEach(() => {
    registry = new Registry()
    pool = new PeerPool({
      swarm: testnet.createSwarm(),
      logger: pino({ level: 'silent' }),
      registry,
    })
  })

  afterEach(async () => {
    await pool.close()
    for (const w of workers.splice(0)) await w.kill('SIGKILL')
  })

  after(async () => {
    await testnet.destroy()
  })

  async function readyWorker(): Promise<WorkerProcess> {
    const w = await spawnWorker(testnet.bootstrap)
    workers.push(w)
    await pool.start()
    expect(await pool.whenReady([w.publicKey], 10_000)).to.equal(w.publicKey)
    pool.lease(w.publicKey)
    return w
  }

  async function lostByProbe(): Promise<number> {
    const metric = await registry.getSingleMetric('hypertuna_gateway_pool_links_lost_total')?.get()
    return metric?.values.find((v) => v.labels.reason === 'probe')?.value ?? 0
  }

  for (const signal of ['SIGKILL', 'SIGSTOP'] as const) {
    it(`notices a ${signal === 'SIGKILL' ? 'dead' : 'hung'} worker (${signal}) within 3 s, by the probe`, async () => {
      const w = await readyWorker()
      const down = nextState(pool, w.publicKey, 'down')
      w.child.kill(signal)
      // A request in flight to the lost worker ends with the link, not after its 30 s deadline.
      const started = Date.now()
      const inflight = pool.request(w.publicKey, { method: 'GET', path: '/health' }).then(
        () => null,
        (err: { code?: string }) => ({ code: err.code, ms: Date.now() - started }),
      )
      const ms = await down
      const failed = await inflight
      console.log(
        `      ${signal}: noticed after ${ms} ms, in-flight request failed after ${failed?.ms} ms`,
      )
      expect(ms).to.be.at.most(NOTICED_WITHIN_MS)
      expect(failed?.code).to.equal(ErrorCode.CHANNEL_CLOSED)
      expect(failed?.ms).to.be.at.most(NOTICED_WITHIN_MS)
      expect(await lostByProbe()).to.equal(1)
    })
  }

  it('costs about one small frame per second on an idle link', async () => {
    const w = await readyWorker()
    const conn = pool.peer(w.publicKey)
    const before = conn.livePackets()
    const bytesBefore = conn.liveBytes()
    const started = Date.now()
    await new Promise((resolve) => setTimeout(resolve, 6_000))
    const seconds = (Date.now() - started) / 1000
    const after = conn.livePackets()
    const bytesAfter = conn.liveBytes()
    // Retransmits (a loaded machine delays the peer's ack past the retransmit timer) and the acks
    // they draw are the scheduler's cost, not the probe's: counted apart, printed, not bounded.
    const resent = (after.retransmitted - before.retransmitted) / seconds
    const sent = (after.sent - before.sent) / seconds - resent
    const received = (after.received - before.received) / seconds - resent
    const bytesSent = (bytesAfter.sent - bytesBefore.sent) / seconds
    console.log(
      `      idle link: ${sent.toFixed(2)} packets/s out (${bytesSent.toFixed(0)} B/s), ` +
        `${received.toFixed(2)} packets/s in (acks included), ${resent.toFixed(2)}/s resent`,
    )
    expect(conn.state).to.equal('ready')
    // UDX packets with acknowledgements (~1.8/s here when idle): one probe frame per second
    // plus a health check every 5 s.
    expect(sent).to.be.at.most(3)
    expect(received).to.be.at.most(3)
  })
})

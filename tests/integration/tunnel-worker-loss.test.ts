import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { wsService } from '../../shared/tunnel/tunnel-wire.js'
import { trapUncaught } from '../fuzz/trap-uncaught.js'
import { spawnDriveWorker } from '../helpers/drive-worker.js'
import type { DriveWorker } from '../helpers/drive-worker.js'
import { startProxyStack } from '../helpers/proxy-stack.js'
import type { ProxyStack } from '../helpers/proxy-stack.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import { waitUntil } from '../helpers/wait-until.js'
import { rawClient } from '../helpers/ws-client.js'
import type { RawClient } from '../helpers/ws-client.js'

const isEose = (m: unknown): boolean => Array.isArray(m) && m[0] === 'EOSE'

// Issue 13 loose end: a tunnelled WebSocket whose worker PROCESS is killed or frozen. The link
// probe declares a silent peer down (about 1.7 s, docs/protocol.md), its tunnels fail, and the
// client is closed 1001 so it reconnects; the next session goes to the relay's other worker.
describe('tunnelled WebSocket: worker process SIGKILLed or SIGSTOPped (two worker processes)', function () {
  this.timeout(120_000)
  const trap = trapUncaught()
  let testnet: LocalTestnet
  let stack: ProxyStack
  let dir: string
  let relayKey: string
  let workers: DriveWorker[] = []

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tunnel-loss-'))
    testnet = await startTestnet()
    stack = await startProxyStack(testnet)
  })

  beforeEach(async () => {
    relayKey = randomBytes(32).toString('hex')
    workers = await Promise.all(
      [0, 1].map(() => spawnDriveWorker(testnet.bootstrap, dir, relayKey, { ws: true })),
    )
    const keys = workers.map((w) => w.publicKey)
    await stack.register(relayKey, keys)
    stack.pool.warm(keys)
    await waitUntil(() => keys.every((k) => stack.proxy.tunnels.offers(k, wsService(relayKey))), {
      timeoutMs: 30_000,
      what: 'both workers linked and offering the ws tunnel',
    })
  })

  afterEach(async () => {
    // Every child stopped, a frozen one included, whatever the test did.
    for (const w of workers) w.child.kill('SIGCONT')
    await Promise.all(workers.map((w) => w.kill('SIGKILL')))
    expect(trap.errors.map(String)).to.deep.equal([])
  })

  after(async () => {
    trap.release()
    await stack?.close()
    await testnet?.destroy()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  async function session(): Promise<RawClient> {
    const client = await rawClient(stack.url(relayKey, stack.token(relayKey)))
    client.send(['REQ', 's', { kinds: [1] }])
    await client.next(isEose)
    return client
  }

  // The worker whose lease the session holds, and the other one.
  function servingWorker(): [DriveWorker, DriveWorker] {
    const [a, b] = workers as [DriveWorker, DriveWorker]
    return stack.pool.snapshot(a.publicKey).sessions === 1 ? [a, b] : [b, a]
  }

  async function loseWorker(signal: 'SIGKILL' | 'SIGSTOP'): Promise<void> {
    const client = await session()
    expect(stack.proxy.tunnels.size).to.equal(1)
    const [served, other] = servingWorker()
    expect(stack.pool.snapshot(served.publicKey).sessions).to.equal(1)
    const started = Date.now()
    served.child.kill(signal)
    const [code, reason] = await client.closed
    expect([code, reason]).to.deep.equal([1001, 'worker lost'])
    // Bounded by the link probe, not by a TCP or request timeout (generous for a loaded machine).
    expect(Date.now() - started).to.be.below(15_000)
    await waitUntil(() => stack.proxy.tunnels.size === 0, { what: 'no tunnel left open' })
    expect(stack.pool.snapshot(served.publicKey).sessions).to.equal(0)

    // The proxy serves on: a new session lands on the other worker.
    const again = await session()
    expect(stack.pool.snapshot(other.publicKey).sessions).to.equal(1)
    again.ws.close()
    await again.closed
    await waitUntil(() => stack.proxy.tunnels.size === 0, { what: 'second tunnel released' })
  }

  it('SIGKILL: the client gets 1001, the tunnel count returns to 0, the other worker serves', async () => {
    await loseWorker('SIGKILL')
  })

  it('SIGSTOP: the silent worker is declared down, the client gets 1001 within a bound', async () => {
    await loseWorker('SIGSTOP')
  })
})

import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { CLOSE_DEADLINE_MS } from '../../proxy/tunnel-edge.js'
import { wsService } from '../../shared/tunnel/tunnel-wire.js'
import { createLogSink } from '../helpers/log-sink.js'
import { startProxyStack } from '../helpers/proxy-stack.js'
import type { ProxyStack } from '../helpers/proxy-stack.js'
import { startStallingWsService } from '../helpers/stalling-ws-service.js'
import type { StallingWsService, StallMode } from '../helpers/stalling-ws-service.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import { waitUntil } from '../helpers/wait-until.js'
import { isNotice, rawClient } from '../helpers/ws-client.js'
import type { RawClient } from '../helpers/ws-client.js'
import { startWorker } from '../helpers/worker.js'
import type { TestWorker } from '../helpers/worker.js'

async function closedTunnels(stack: ProxyStack, outcome: string): Promise<number> {
  const metric = await stack.registry
    .getSingleMetric('hypertuna_gateway_tunnel_closed_total')
    ?.get()
  const hit = metric?.values.find((v) => v.labels.kind === 'ws' && v.labels.outcome === outcome)
  return hit?.value ?? 0
}

// Review F3: a worker that never lets its frame end must not keep a revoked client connected.
describe('tunnelled WebSocket whose worker never ends its frame (review F3)', function () {
  this.timeout(60_000)
  let testnet: LocalTestnet
  let service: StallingWsService
  let worker: TestWorker
  let stack: ProxyStack
  const logs = createLogSink()

  before(async () => {
    testnet = await startTestnet()
    stack = await startProxyStack(testnet, { logger: pino({ level: 'info' }, logs.stream) })
  })

  after(async () => {
    await stack?.close()
    await testnet?.destroy()
  })

  let token = ''

  async function open(mode: StallMode): Promise<RawClient> {
    service = await startStallingWsService(mode)
    const relayKey = randomBytes(32).toString('hex')
    worker = await startWorker(testnet, {
      relayKey,
      tunnels: { [wsService(relayKey)]: { port: service.port } },
    })
    await stack.register(relayKey, [worker.publicKey])
    await stack.pool.acquire(worker.publicKey)
    token = stack.token(relayKey)
    return rawClient(stack.url(relayKey, token))
  }

  afterEach(async () => {
    await worker?.close()
    await service?.close()
  })

  for (const mode of ['stall', 'trickle'] as const) {
    it(`revoked while the worker's frame ${mode === 'stall' ? 'stalls' : 'trickles'}: cut at the deadline and counted`, async () => {
      const before = await closedTunnels(stack, 'tunnel_close_deadline')
      const client = await open(mode)
      await client.next(isNotice('stalling'))
      const started = Date.now()
      await stack.store.revokeTokens(worker.relayKey, Date.now() + 1_000)
      const [code] = await client.closed
      // No close frame fits in the middle of a frame: the connection is dropped (1006).
      expect(code).to.equal(1006)
      const tookMs = Date.now() - started
      expect(tookMs).to.be.at.least(CLOSE_DEADLINE_MS - 50)
      expect(tookMs).to.be.below(CLOSE_DEADLINE_MS + 10_000)
      await waitUntil(() => stack.proxy.tunnels.size === 0 && service.clients === 0, {
        what: 'tunnel and service connection released',
      })
      expect(await closedTunnels(stack, 'tunnel_close_deadline')).to.equal(before + 1)
      const line = await logs.waitFor(
        (l) => l.cut === 'close_deadline' && l.peer === worker.publicKey,
      )
      expect(line).to.include({ level: 40, closeCode: 4403 })
      expect(logs.text()).to.not.contain(token)
    })
  }

  it('cuts at once a worker frame whose length has the top bit set, counted', async () => {
    const before = await closedTunnels(stack, 'tunnel_frame_invalid')
    const client = await open('huge-length')
    const [code] = await client.closed
    expect(code).to.equal(1006)
    await waitUntil(() => stack.proxy.tunnels.size === 0, { what: 'tunnel released' })
    expect(await closedTunnels(stack, 'tunnel_frame_invalid')).to.equal(before + 1)
    expect(logs.find((l) => l.cut === 'frame_length')).to.include({ peer: worker.publicKey })
    expect(logs.text()).to.not.contain(token)
  })
})

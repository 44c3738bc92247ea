import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { ProxyReporter } from '../../proxy/proxy-reporter.js'
import { ErrorCode, GatewayError } from '../../shared/errors.js'
import { ExampleRelay } from '../../shared/worker/example-relay.js'
import { RelayHost } from '../../shared/worker/relay-host.js'
import { createLogSink } from '../helpers/log-sink.js'
import { connectRelay } from '../helpers/edge-client.js'
import { note } from '../helpers/nostr.js'
import { startProxyStack } from '../helpers/proxy-stack.js'
import type { ProxyStack } from '../helpers/proxy-stack.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import { waitUntil } from '../helpers/wait-until.js'

describe('ProxyReporter: what a proxy tells operators through the store', function () {
  this.timeout(30_000)
  let testnet: LocalTestnet
  let stack: ProxyStack
  let host: RelayHost
  let example: ExampleRelay
  const relayKey = randomBytes(32).toString('hex')

  before(async () => {
    testnet = await startTestnet()
    stack = await startProxyStack(testnet)
    example = new ExampleRelay()
    host = new RelayHost({
      swarm: testnet.createSwarm(),
      logger: pino({ level: 'silent' }),
      relays: [{ relayKey, backend: example }],
    })
    await host.start()
    await stack.register(relayKey, [host.publicKey])
  })

  after(async () => {
    await host?.close()
    example?.close()
    await stack?.close()
    await testnet?.destroy()
  })

  it('reports pooled peers with their state and live sessions per relay', async () => {
    const reporter = new ProxyReporter({
      pool: stack.pool,
      sessions: stack.proxy.sessions,
      store: stack.store,
      logger: pino({ level: 'silent' }),
      intervalMs: 60_000,
    })
    const client = await connectRelay(stack.url(relayKey, stack.token(relayKey)))
    try {
      await client.publish(note('warm the link'))
      await waitUntil(() => stack.pool.snapshot(host.publicKey).state === 'ready')
      await reporter.report()
      const [report] = await stack.store.listProxyReports()
      expect(report?.proxyId).to.equal(stack.pool.publicKey)
      expect(report?.sessions).to.equal(1)
      expect(report?.relays).to.deep.equal({ [relayKey]: 1 })
      expect(report?.peers[host.publicKey]).to.include({ state: 'ready', sessions: 1 })
    } finally {
      client.close()
      reporter.close()
    }
  })

  it('logs a store failure and keeps going', async () => {
    const sink = createLogSink()
    const failing = {
      putProxyReport: () =>
        Promise.reject(new GatewayError(ErrorCode.STORE_UNAVAILABLE, 'redis down')),
    }
    const reporter = new ProxyReporter({
      pool: stack.pool,
      sessions: stack.proxy.sessions,
      store: failing as never,
      logger: pino({ level: 'warn' }, sink.stream),
    })
    await reporter.report()
    expect(sink.lines().some((l) => l.msg === 'proxy report not written')).to.equal(true)
    reporter.close()
  })
})

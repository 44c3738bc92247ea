import { expect } from 'chai'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer as createHttpServer, request } from 'node:http'
import type { IncomingMessage, Server as HttpServer } from 'node:http'
import { createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { TunnelClient } from '../../proxy/tunnel-client.js'
import { ErrorCode } from '../../shared/errors.js'
import { PeerPool } from '../../shared/swarm/peer-pool.js'
import { TunnelStream } from '../../shared/tunnel/tunnel-stream.js'
import { httpService, TUNNEL_WINDOW, wsService } from '../../shared/tunnel/tunnel-wire.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import { waitUntil } from '../helpers/wait-until.js'
import { startWorker } from '../helpers/worker.js'
import type { TestWorker } from '../helpers/worker.js'

const silent = pino({ level: 'silent' })

function listen<T extends Server | HttpServer>(server: T): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  )
}

function tcpSockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length
}

function sha(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex')
}

function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = []
  stream.on('data', (c: Buffer) => chunks.push(c))
  return new Promise((resolve, reject) => {
    stream.once('end', () => resolve(Buffer.concat(chunks)))
    stream.once('error', reject)
  })
}

function closed(tunnel: TunnelStream): Promise<Error | null> {
  let error: Error | null = null
  tunnel.on('error', (err: Error) => (error = err))
  // Not events.once: it rejects on 'error', which is what is being waited for here.
  if (tunnel.destroyed) return Promise.resolve(error)
  return new Promise((resolve) => tunnel.once('close', () => resolve(error)))
}

describe('tunnel transport: raw streams over the pooled link (loopback testnet)', function () {
  this.timeout(60_000)
  let testnet: LocalTestnet
  let worker: TestWorker
  let legacy: TestWorker
  let pool: PeerPool
  let tunnels: TunnelClient
  let echo: Server
  let sink: Server
  let http: HttpServer
  let deadPort: number
  const served: Socket[] = []
  const big = randomBytes(4 * 1024 * 1024)
  /** Bytes the sink service sends every connection, as fast as TCP lets it. */
  const flood = randomBytes(8 * 1024 * 1024)

  before(async () => {
    testnet = await startTestnet()
    echo = createServer({ allowHalfOpen: true }, (s) => {
      served.push(s)
      s.on('error', () => {})
      s.pipe(s)
    })
    sink = createServer((s) => {
      served.push(s)
      s.on('error', () => {})
      s.end(flood)
    })
    http = createHttpServer((req, res) => {
      req.resume()
      res.end(`hello ${req.url}`)
    })
    const probe = createServer()
    deadPort = await listen(probe)
    await new Promise((resolve) => probe.close(resolve))
    const [echoPort, sinkPort, httpPort] = await Promise.all([
      listen(echo),
      listen(sink),
      listen(http),
    ])
    const relayKey = randomBytes(32).toString('hex')
    worker = await startWorker(testnet, {
      relayKey,
      tunnels: {
        [wsService(relayKey)]: { port: echoPort },
        [httpService(relayKey)]: { port: httpPort },
        sink: { port: sinkPort },
        dead: { port: deadPort },
      },
    })
    legacy = await startWorker(testnet)
    pool = new PeerPool({
      swarm: testnet.createSwarm(),
      logger: silent,
      registry: new Registry(),
      healthIntervalMs: 200,
      healthTimeoutMs: 300,
      backoff: { minMs: 100, maxMs: 500 },
    })
    await pool.start()
    tunnels = new TunnelClient({ pool, logger: silent })
    tunnels.start()
    await Promise.all([pool.acquire(worker.publicKey), pool.acquire(legacy.publicKey)])
  })

  after(async () => {
    await tunnels?.close()
    await pool?.close()
    await worker?.close()
    await legacy?.close()
    for (const s of [echo, sink, http]) s?.close()
    http?.closeAllConnections()
    await testnet?.destroy()
  })

  it('is negotiated: offered services are known, a worker without tunnels offers none', () => {
    const relayKey = worker.relayKey
    expect(tunnels.offers(worker.publicKey, wsService(relayKey))).to.equal(true)
    expect(tunnels.offers(worker.publicKey, httpService(relayKey))).to.equal(true)
    expect(tunnels.offers(worker.publicKey, 'nope')).to.equal(false)
    expect(tunnels.tunnels(legacy.publicKey)).to.equal(false)
    expect(tunnels.offers(legacy.publicKey, wsService(legacy.relayKey))).to.equal(false)
    expect(() => tunnels.open(legacy.publicKey, 'sink'))
      .to.throw()
      .with.property('code', ErrorCode.TUNNEL_UNSUPPORTED)
    expect(tunnels.pick([legacy.publicKey, worker.publicKey], wsService(relayKey))).to.equal(
      worker.publicKey,
    )
  })

  it('carries 4 MB both ways intact, half-close included, and releases everything', async () => {
    const sockets = tcpSockets()
    const tunnel = tunnels.open(worker.publicKey, wsService(worker.relayKey))
    expect(pool.snapshot(worker.publicKey).sessions).to.equal(1)
    const done = closed(tunnel)
    const received = collect(tunnel)
    tunnel.end(big)
    expect(sha(await received)).to.equal(sha(big))
    expect(await done).to.equal(null)
    expect(tunnel.stats).to.deep.equal({ bytesIn: big.length, bytesOut: big.length })
    expect(tunnels.size).to.equal(0)
    expect(pool.snapshot(worker.publicKey).sessions).to.equal(0)
    await waitFor(() => worker.host.tunnelCount === 0 && tcpSockets() === sockets)
  })

  it('holds a slow reader to one window: the service is paused, not buffered', async () => {
    const tunnel = tunnels.open(worker.publicKey, 'sink')
    const done = closed(tunnel)
    tunnel.pause()
    // Give the sink every chance to overrun us; the window must hold.
    await waitFor(() => tunnel.stats.bytesIn >= TUNNEL_WINDOW)
    await new Promise((resolve) => setImmediate(resolve))
    expect(tunnel.stats.bytesIn).to.be.at.most(TUNNEL_WINDOW)
    const received = collect(tunnel)
    tunnel.resume()
    tunnel.end()
    expect(sha(await received)).to.equal(sha(flood))
    expect(await done).to.equal(null)
  })

  it('serves http.request through an agent, one kept-alive tunnel for two requests', async () => {
    const opened: string[] = []
    const onOpen = (_peer: string, service: string) => opened.push(service)
    tunnels.on('open', onOpen)
    const agent = tunnels.agent(worker.publicKey, httpService(worker.relayKey))
    expect(tunnels.agent(worker.publicKey, httpService(worker.relayKey))).to.equal(agent)
    for (const path of ['/a', '/b']) {
      const req = request({ host: 'tunnel', path, agent })
      req.end()
      const [res] = (await once(req, 'response')) as [IncomingMessage]
      expect(res.statusCode).to.equal(200)
      expect((await collect(res)).toString()).to.equal(`hello ${path}`)
    }
    tunnels.off('open', onOpen)
    expect(opened).to.deep.equal([httpService(worker.relayKey)])
  })

  it('reports a local service that refuses as TUNNEL_CONNECT_FAILED', async () => {
    const tunnel = tunnels.open(worker.publicKey, 'dead')
    tunnel.resume()
    const err = await closed(tunnel)
    expect(err).to.have.property('code', ErrorCode.TUNNEL_CONNECT_FAILED)
  })

  it('refuses an unknown service with TUNNEL_REFUSED', async () => {
    // The proxy checks the handshake list first; a name it never heard of reaches the worker
    // only through a raw stream, so open one on the link by hand.
    const link = pool.peer(worker.publicKey).link
    const tunnel = new TunnelStream(link, { service: 'not-offered' })
    tunnel.resume()
    expect(await closed(tunnel)).to.have.property('code', ErrorCode.TUNNEL_REFUSED)
  })

  it('fails every tunnel of a lost link with TUNNEL_LINK_LOST and frees the lease', async () => {
    const tunnel = tunnels.open(worker.publicKey, 'sink')
    tunnel.pause()
    await waitFor(() => tunnel.stats.bytesIn > 0)
    const done = closed(tunnel)
    pool.peer(worker.publicKey).link?.destroy()
    expect(await done).to.have.property('code', ErrorCode.TUNNEL_LINK_LOST)
    expect(tunnels.size).to.equal(0)
    expect(pool.snapshot(worker.publicKey).sessions).to.equal(0)
    await waitFor(() => worker.host.tunnelCount === 0)
  })

  it("a lost link frees every tunnel of the worker's TunnelHost and each local service socket", async () => {
    // The previous test dropped the link: let the pool dial it again.
    pool.warm([worker.publicKey])
    await waitFor(() => tunnels.offers(worker.publicKey, 'sink'))
    const live = (): number => served.filter((s) => !s.destroyed).length
    const before = live()
    const opened = ['sink', 'sink', wsService(worker.relayKey)].map((service) => {
      const tunnel = tunnels.open(worker.publicKey, service)
      tunnel.pause()
      return tunnel
    })
    const done = opened.map(closed)
    ;(opened[2] as TunnelStream).write(Buffer.alloc(1000, 1))
    await waitFor(() => worker.host.tunnelCount === 3 && live() === before + 3)
    pool.peer(worker.publicKey).link?.destroy()
    for (const err of await Promise.all(done)) {
      expect(err).to.have.property('code', ErrorCode.TUNNEL_LINK_LOST)
    }
    await waitFor(() => worker.host.tunnelCount === 0 && live() === before)
    expect(tunnels.size).to.equal(0)
  })
})

function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  return waitUntil(check, { timeoutMs, what: 'tunnel condition' })
}

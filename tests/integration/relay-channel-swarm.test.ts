import { expect } from 'chai'
import { once } from 'node:events'
import type { NoiseSecretStream } from 'hyperdht'
import type Hyperswarm from 'hyperswarm'
import { ErrorCode } from '../../shared/errors.js'
import { RelayChannel } from '../../shared/protocol/relay-channel.js'
import { Router } from '../../shared/protocol/router.js'
import { DISCOVERY_TOPIC } from '../../shared/protocol/wire.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'

describe('relay-v2 channel over a real Hyperswarm connection (loopback testnet)', function () {
  this.timeout(30_000)
  let testnet: LocalTestnet
  let worker: Hyperswarm
  let gateway: Hyperswarm
  let workerChannel: RelayChannel
  let gatewayChannel: RelayChannel
  let gatewayStream: NoiseSecretStream

  before(async () => {
    testnet = await startTestnet()
    worker = testnet.createSwarm()
    gateway = testnet.createSwarm()
    const router = new Router()
      .get('/echo/:word', (req) => ({
        statusCode: 200,
        body: { word: req.params.word, q: req.query.get('q') },
      }))
      .post('/upper', (req) => ({ statusCode: 201, body: String(req.body).toUpperCase() }))
      // A handler that never answers, to exercise timeouts and close.
      .get('/never', () => new Promise(() => {}))
      .get('/boom', () => {
        throw new Error('handler blew up')
      })
    const workerReady = new Promise<RelayChannel>((resolve) => {
      worker.on('connection', (stream: NoiseSecretStream) => {
        stream.on('error', () => {})
        resolve(
          new RelayChannel(stream, {
            isServer: true,
            router,
            healthServices: () => ({ relay: 'active' }),
          }),
        )
      })
    })
    await worker.join(DISCOVERY_TOPIC, { server: true, client: false }).flushed()

    const connected = once(gateway, 'connection') as Promise<[NoiseSecretStream]>
    gateway.joinPeer(worker.keyPair.publicKey)
    ;[gatewayStream] = await connected
    gatewayStream.on('error', () => {})
    expect(gatewayStream.remotePublicKey.equals(worker.keyPair.publicKey)).to.equal(true)
    gatewayChannel = new RelayChannel(gatewayStream, {
      isServer: false,
      gateway: true,
      capabilities: ['http', 'websocket', 'health', 'push'],
    })
    workerChannel = await workerReady
    await Promise.all([gatewayChannel.opened(), workerChannel.opened()])
  })

  after(async () => {
    await testnet?.destroy()
  })

  it('exchanges handshakes; the worker recognises a gateway', () => {
    expect(workerChannel.remoteIsGateway).to.equal(true)
    expect(gatewayChannel.remoteHandshake?.isServer).to.equal(true)
    expect(gatewayChannel.supports('push')).to.equal(false)
    expect(gatewayChannel.supports('health')).to.equal(true)
    expect(gatewayChannel.supports('text-body')).to.equal(false)
  })

  it('round-trips requests with params, query and bodies', async () => {
    const a = await gatewayChannel.request({ method: 'GET', path: '/echo/np%3Ax?q=1' })
    expect(a.statusCode).to.equal(200)
    expect(JSON.parse(String(a.body))).to.deep.equal({ word: 'np:x', q: '1' })
    const b = await gatewayChannel.request({
      method: 'POST',
      path: '/upper',
      body: Buffer.from('hi'),
    })
    expect(b.statusCode).to.equal(201)
    expect(String(b.body)).to.equal('HI')
  })

  it('answers unmatched requests with 404 and failing handlers with 500', async () => {
    const missing = await gatewayChannel.request({ method: 'GET', path: '/nope' })
    expect(missing.statusCode).to.equal(404)
    const boom = await gatewayChannel.request({ method: 'GET', path: '/boom' })
    expect(boom.statusCode).to.equal(500)
  })

  it('runs a health check with a round-trip time', async () => {
    const res = await gatewayChannel.healthCheck()
    expect(res.status).to.equal('healthy')
    expect(res.services).to.deep.equal({ relay: 'active' })
    expect(res.rttMs).to.be.greaterThan(0)
  })

  it('times out a request with REQUEST_TIMEOUT', async () => {
    const err = await gatewayChannel
      .request({ method: 'GET', path: '/never' }, { timeoutMs: 100 })
      .then(
        () => null,
        (e: unknown) => e,
      )
    expect(err).to.have.property('code', ErrorCode.REQUEST_TIMEOUT)
  })

  it('rejects pending calls with CHANNEL_CLOSED when the connection goes away', async () => {
    const pending = gatewayChannel.request({ method: 'GET', path: '/never' }, { timeoutMs: 10_000 })
    const settled = pending.then(
      () => null,
      (e: unknown) => e,
    )
    gatewayStream.destroy()
    const err = await settled
    expect(err).to.have.property('code', ErrorCode.CHANNEL_CLOSED)
    expect(gatewayChannel.closed).to.equal(true)
    const after = await gatewayChannel.request({ method: 'GET', path: '/echo/x' }).then(
      () => null,
      (e: unknown) => e,
    )
    expect(after).to.have.property('code', ErrorCode.CHANNEL_CLOSED)
  })
})

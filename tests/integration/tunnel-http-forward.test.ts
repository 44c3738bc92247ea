import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { IncomingHttpHeaders, Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { httpService } from '../../shared/tunnel/tunnel-wire.js'
import { requestBinary } from '../helpers/edge-client.js'
import { freePort } from '../helpers/free-port.js'
import { startProxyStack } from '../helpers/proxy-stack.js'
import type { ProxyStack } from '../helpers/proxy-stack.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import { waitUntil } from '../helpers/wait-until.js'
import { startWorker } from '../helpers/worker.js'
import type { TestWorker } from '../helpers/worker.js'

describe('tunnelled /drive and /pfp: what the worker HTTP service sees, and failures', function () {
  this.timeout(60_000)
  let testnet: LocalTestnet
  let stack: ProxyStack
  let service: Server
  let good: TestWorker
  let broken: TestWorker
  const seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders }> = []
  const relayKey = randomBytes(32).toString('hex')
  const lonelyKey = randomBytes(32).toString('hex')

  before(async () => {
    testnet = await startTestnet()
    service = createServer((req, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers })
      res.writeHead(206, {
        'content-type': 'text/plain',
        'content-range': 'bytes 0-3/10',
        'x-worker': 'good',
        'keep-alive': 'timeout=5',
      })
      res.end('abcd')
    })
    await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve))
    const port = (service.address() as AddressInfo).port
    const dead = await freePort()
    stack = await startProxyStack(testnet)
    good = await startWorker(testnet, {
      relayKey,
      tunnels: { [httpService(relayKey)]: { port } },
    })
    // Same relay, but its HTTP service is not listening: connect fails on the worker.
    broken = await startWorker(testnet, {
      relayKey,
      tunnels: {
        [httpService(relayKey)]: { port: dead },
        [httpService(lonelyKey)]: { port: dead },
      },
    })
    await stack.register(relayKey, [broken.publicKey, good.publicKey], { gatewayPath: 'files' })
    await stack.register(lonelyKey, [broken.publicKey])
    stack.pool.warm([good.publicKey, broken.publicKey])
    await waitUntil(() => [good, broken].every((w) => stack.proxy.tunnels.tunnels(w.publicKey)), {
      timeoutMs: 30_000,
      what: 'both worker links up',
    })
  })

  after(async () => {
    await stack?.close()
    await good?.close()
    await broken?.close()
    await new Promise((resolve) => service?.close(resolve))
    await testnet?.destroy()
  })

  it('gets the relay key in the path, the harmless query and headers only, never credentials', async () => {
    const res = await requestBinary(
      `http://127.0.0.1:${stack.port}/drive/files/photo.jpg?token=T1&v=2&access_token=T2`,
      {
        headers: {
          range: 'bytes=0-3',
          'if-range': '"etag"',
          cookie: 'session=secret',
          authorization: 'Bearer secret',
          'x-forwarded-for': '203.0.113.9',
          'x-custom': 'nope',
        },
      },
    )
    expect(res.status).to.equal(206)
    expect(res.body.toString()).to.equal('abcd')
    expect(res.headers['content-range']).to.equal('bytes 0-3/10')
    expect(res.headers['x-worker']).to.equal('good')
    expect(res.headers['keep-alive']).to.equal(undefined)
    const got = seen.at(-1)
    expect(got?.url).to.equal(`/drive/${relayKey}/photo.jpg?v=2`)
    expect(got?.headers.range).to.equal('bytes=0-3')
    expect(got?.headers['if-range']).to.equal('"etag"')
    for (const name of ['cookie', 'authorization', 'x-forwarded-for', 'x-custom']) {
      expect(got?.headers[name], name).to.equal(undefined)
    }
  })

  it('asks /pfp of the named relay without the relay selector; HEAD stays HEAD', async () => {
    const res = await requestBinary(`http://127.0.0.1:${stack.port}/pfp/me.png?relay=${relayKey}`)
    expect(res.status).to.equal(206)
    expect(seen.at(-1)?.url).to.equal('/pfp/me.png')
    const head = await requestBinary(`http://127.0.0.1:${stack.port}/drive/${relayKey}/x`, {
      method: 'HEAD',
    })
    expect(head.status).to.equal(206)
    expect(seen.at(-1)?.method).to.equal('HEAD')
  })

  it('skips a worker whose HTTP service is down (before any byte reached the client)', async () => {
    const before = seen.length
    let refused = 0
    const onClose = (peer: string, _service: string, outcome: { code: string | null }) => {
      if (peer === broken.publicKey && outcome.code === 'TUNNEL_CONNECT_FAILED') refused++
    }
    stack.proxy.tunnels.on('close', onClose)
    for (let i = 0; i < 6; i++) {
      const res = await requestBinary(`http://127.0.0.1:${stack.port}/drive/${relayKey}/f${i}`)
      expect(res.status, `request ${i}`).to.equal(206)
    }
    stack.proxy.tunnels.off('close', onClose)
    expect(seen.length - before).to.equal(6)
    // The idle kept-alive tunnel to the good worker counts as a lease, so selection tried the
    // broken one first at least once.
    expect(refused).to.be.at.least(1)
    // Only the broken worker: every attempt fails before the head, so a clean 502 with a code.
    const lonely = await requestBinary(`http://127.0.0.1:${stack.port}/drive/${lonelyKey}/f`)
    expect(lonely.status).to.equal(502)
    const body = JSON.parse(lonely.body.toString()) as { code: string; error: string }
    expect(body.code).to.equal('bad_gateway')
    expect(body.error).to.contain('TUNNEL_CONNECT_FAILED')
  })
})

import { expect } from 'chai'
import { mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { download, fileRangeSha256, writePatternFile } from '../helpers/big-file.js'
import type { PatternFile } from '../helpers/big-file.js'
import { spawnDriveWorker } from '../helpers/drive-worker.js'
import type { DriveWorker } from '../helpers/drive-worker.js'
import { requestBinary } from '../helpers/edge-client.js'
import { startProxyStack } from '../helpers/proxy-stack.js'
import type { ProxyStack } from '../helpers/proxy-stack.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import { waitUntil } from '../helpers/wait-until.js'

const MB = 1024 * 1024
const SIZE = 100 * MB

// Client and proxy sockets of this process (the worker is another process).
function tcpSockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length
}

async function counter(stack: ProxyStack, status: string): Promise<number> {
  const metric = await stack.registry
    .getSingleMetric('hypertuna_gateway_proxy_http_forwards_total')
    ?.get()
  return (
    metric?.values.find((v) => v.labels.route === 'drive' && v.labels.status === status)?.value ?? 0
  )
}

describe('/drive through a tunnel to the worker HTTP service (http-proxy, loopback testnet)', function () {
  this.timeout(120_000)
  let testnet: LocalTestnet
  let stack: ProxyStack
  let dir: string
  let file: PatternFile
  let worker: DriveWorker
  let base: string
  const opened: string[] = []

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tunnel-http-'))
    testnet = await startTestnet()
    ;[file, stack] = await Promise.all([
      writePatternFile(join(dir, 'big.bin'), SIZE),
      startProxyStack(testnet),
    ])
    stack.proxy.tunnels.on('open', (_peer: string, service: string) => opened.push(service))
    worker = await spawnDriveWorker(testnet.bootstrap, dir)
    await stack.register(worker.relayKey, [worker.publicKey])
    base = `http://127.0.0.1:${stack.port}/drive/${worker.relayKey}`
    // The pool dials on first use; wait until the worker's link offers its HTTP service.
    stack.pool.warm([worker.publicKey])
    await waitUntil(() => stack.proxy.tunnels.tunnels(worker.publicKey), {
      timeoutMs: 30_000,
      what: 'tunnel-capable link to the worker',
    })
  })

  after(async () => {
    await worker?.kill('SIGKILL')
    await stack?.close()
    await testnet?.destroy()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('streams a 100 MB file intact, and a Range of it as 206 with the right bytes', async () => {
    const whole = await download(`${base}/big.bin?token=secret-never-forwarded`)
    expect(whole.status).to.equal(200)
    expect(whole.headers['content-length']).to.equal(String(SIZE))
    expect(whole.headers['accept-ranges']).to.equal('bytes')
    expect(whole.bytes).to.equal(SIZE)
    expect(whole.sha256).to.equal(file.sha256)
    expect(opened).to.include(`http:${worker.relayKey}`)

    const start = 33 * MB + 7
    const end = 71 * MB + 12_345
    const part = await download(`${base}/big.bin`, { headers: { range: `bytes=${start}-${end}` } })
    expect(part.status).to.equal(206)
    expect(part.headers['content-range']).to.equal(`bytes ${start}-${end}/${SIZE}`)
    expect(part.bytes).to.equal(end - start + 1)
    expect(part.sha256).to.equal(await fileRangeSha256(file.path, start, end))
  })

  it("answers HEAD, conditional GET and the worker's 404 through the tunnel", async () => {
    const head = await requestBinary(`${base}/big.bin`, { method: 'HEAD' })
    expect(head.status).to.equal(200)
    expect(head.headers['content-length']).to.equal(String(SIZE))
    expect(head.body.length).to.equal(0)
    const etag = head.headers.etag as string
    expect(etag).to.be.a('string')
    const again = await requestBinary(`${base}/big.bin`, { headers: { 'if-none-match': etag } })
    expect(again.status).to.equal(304)
    expect((await requestBinary(`${base}/missing.bin`)).status).to.equal(404)
  })

  it("a cold relay's first request waits for the worker link and goes through the tunnel", async () => {
    const cold = await startProxyStack(testnet)
    try {
      const services: string[] = []
      cold.proxy.tunnels.on('open', (_peer: string, service: string) => services.push(service))
      await cold.register(worker.relayKey, [worker.publicKey])
      const url = `http://127.0.0.1:${cold.port}/drive/${worker.relayKey}/big.bin`
      const part = await download(url, { headers: { range: 'bytes=0-99999' } })
      expect(part.status).to.equal(206)
      expect(part.sha256).to.equal(await fileRangeSha256(file.path, 0, 99_999))
      expect(services).to.deep.equal([`http:${worker.relayKey}`])
    } finally {
      await cold.close()
    }
  })

  it('a client that leaves mid-transfer frees its tunnel and sockets; the next download is whole', async () => {
    const socketsBefore = tcpSockets()
    await new Promise<void>((resolve, reject) => {
      const req = request(`${base}/big.bin`, { agent: false }, (res) => {
        let bytes = 0
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length
          if (bytes >= 5 * MB) req.destroy()
        })
        res.on('error', () => {})
        res.on('close', () => resolve())
      })
      req.on('error', (err) => (req.destroyed ? undefined : reject(err)))
      req.end()
    })
    await waitUntil(() => stack.proxy.tunnels.size === 0 && tcpSockets() <= socketsBefore, {
      timeoutMs: 10_000,
      what: 'the abandoned transfer released',
    })
    const next = await download(`${base}/big.bin`, { headers: { range: 'bytes=0-1048575' } })
    expect(next.status).to.equal(206)
    expect(next.sha256).to.equal(await fileRangeSha256(file.path, 0, 1_048_575))
  })

  it('worker killed mid-transfer: the download fails (cut, not hung), nothing is left open, the proxy serves on', async () => {
    // Everything from the earlier tests has settled: kept-alive tunnels may stay, sockets not.
    const socketsBefore = tcpSockets()
    const cutBefore = await counter(stack, 'cut')
    let killed: Promise<number | null> | null = null
    const started = Date.now()
    const failure = await download(`${base}/big.bin`, {
      hash: false,
      onProgress: (bytes) => {
        if (bytes >= 10 * MB && killed === null) killed = worker.kill('SIGKILL')
      },
    }).then(
      (d) => new Error(`download completed: ${d.bytes} bytes`),
      (err: Error) => err,
    )
    expect(killed).to.not.equal(null)
    expect(failure.message).to.match(/cut off|incomplete|aborted|socket hang up|ECONNRESET/)
    // Noticed by the link probe (about 1.7 s), not by a request timeout.
    expect(Date.now() - started).to.be.below(15_000)
    await waitUntil(() => stack.proxy.tunnels.size === 0, {
      timeoutMs: 10_000,
      what: 'no open tunnel',
    })
    await waitUntil(() => tcpSockets() <= socketsBefore, {
      timeoutMs: 10_000,
      what: `sockets back to ${socketsBefore}`,
    })
    expect(await counter(stack, 'cut')).to.equal(cutBefore + 1)

    const after = await requestBinary(`${base}/big.bin`)
    expect(after.status).to.equal(502)
    expect(JSON.parse(after.body.toString()).code).to.equal('bad_gateway')
    expect((await requestBinary(`http://127.0.0.1:${stack.port}/health`)).status).to.equal(200)
  })
})

import { expect } from 'chai'
import { createHash } from 'node:crypto'
import { WebSocket } from 'ws'
import { startProxyStack } from '../helpers/proxy-stack.js'
import type { ProxyStack } from '../helpers/proxy-stack.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import { startWorker } from '../helpers/worker.js'
import type { TestWorker } from '../helpers/worker.js'
import { rawClient } from '../helpers/ws-client.js'

describe('proxy keep-alive and usage accounting', function () {
  this.timeout(30_000)
  let testnet: LocalTestnet
  let worker: TestWorker
  let stack: ProxyStack

  before(async () => {
    testnet = await startTestnet()
    worker = await startWorker(testnet)
    stack = await startProxyStack(testnet, { limits: { pingIntervalMs: 100 } })
    await stack.register(worker.relayKey, [worker.publicKey])
  })

  after(async () => {
    await stack.close()
    await worker.close()
    await testnet.destroy()
  })

  it('reaps a client that stops answering pings and keeps one that answers', async () => {
    const token = stack.token(worker.relayKey)
    const healthy = await rawClient(stack.url(worker.relayKey, token))
    let pings = 0
    healthy.ws.on('ping', () => pings++)
    const silent = new WebSocket(stack.url(worker.relayKey, token), { autoPong: false })
    silent.on('error', () => {})
    const [code] = (await new Promise((resolve) =>
      silent.on('close', (c: number, r: Buffer) => resolve([c, r.toString()])),
    )) as [number, string]
    // Terminated without a close frame: the client sees an abnormal closure.
    expect(code).to.equal(1006)
    expect(pings).to.be.at.least(2)
    expect(healthy.ws.readyState).to.equal(WebSocket.OPEN)
    healthy.ws.close()
  })

  it('adds per-token sessions, messages and bytes to the store', async () => {
    const token = stack.token(worker.relayKey, { purpose: 'usage' })
    const c = await rawClient(stack.url(worker.relayKey, token))
    const req = JSON.stringify(['REQ', 'u', { kinds: [1] }])
    c.send(req)
    await c.next((m) => Array.isArray(m) && m[0] === 'EOSE')
    await stack.proxy.sessions.flushUsage()
    const id = createHash('sha256').update(token).digest('hex').slice(0, 24)
    expect(await stack.store.getUsage(`token:${id}`)).to.deep.equal({
      sessions: 1,
      messages: 1,
      bytes: Buffer.byteLength(req),
    })
    c.ws.close()
  })
})

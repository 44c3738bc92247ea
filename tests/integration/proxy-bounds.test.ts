import { expect } from 'chai'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { WebSocket } from 'ws'
import { startProxyStack } from '../helpers/proxy-stack.js'
import type { ProxyStack } from '../helpers/proxy-stack.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import { startWorker } from '../helpers/worker.js'
import type { TestWorker } from '../helpers/worker.js'

// A memory bound, not a timing: what the process holds after a full collection, before and
// after. This process also hosts the worker and the flooding client, and on Node 24 RSS keeps
// pages malloc has freed but not returned (RSS grew 86-153 MB here while the heap and external
// memory grew 20-40 MB), so the bound is on retained memory: V8 heap plus external buffers.
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

function retainedBytes(): number {
  gc()
  gc()
  const m = process.memoryUsage()
  return m.heapUsed + m.external
}

/** Sends `count` messages from `make` in rounds of `round`, counting answers without keeping them. */
async function flood(
  url: string,
  count: number,
  round: number,
  make: (i: number) => string,
  isAnswer: (m: unknown[]) => boolean,
): Promise<unknown[][]> {
  const ws = new WebSocket(url)
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
  const samples: unknown[][] = []
  let answered = 0
  let wake: (() => void) | null = null
  ws.on('message', (data) => {
    const m = JSON.parse(String(data)) as unknown[]
    if (!isAnswer(m)) return
    answered++
    // Keep a short sample of each kind of answer, not 2,000 echoes of 60 KB ids.
    if (samples.length < 8) samples.push(m.map((x) => (typeof x === 'string' ? x.slice(0, 80) : x)))
    wake?.()
  })
  for (let sent = 0; sent < count;) {
    const until = Math.min(count, sent + round)
    for (; sent < until; sent++) ws.send(make(sent))
    while (answered < sent) await new Promise<void>((resolve) => (wake = resolve))
  }
  ws.close()
  await new Promise((resolve) => ws.once('close', resolve))
  return samples
}

describe('proxy bounded sessions (memory)', function () {
  this.timeout(120_000)
  let testnet: LocalTestnet
  let worker: TestWorker
  let stack: ProxyStack

  before(async () => {
    testnet = await startTestnet()
    // The example relay's own per-connection limit (20) above the gateway's, so the gateway's is what holds.
    worker = await startWorker(testnet, { relayOptions: { maxSubscriptionsPerConnection: 10_000 } })
    // Rate and queue out of the way: only the subscription bounds are under test.
    stack = await startProxyStack(testnet, {
      limits: {
        maxFrameBytes: 128 * 1024,
        messagesPerSecond: 1_000_000,
        messageBurst: 1_000_000,
        maxQueuedMessages: 4_096,
        maxSubscriptions: 200,
      },
    })
    await stack.register(worker.relayKey, [worker.publicKey])
  })

  after(async () => {
    await stack.close()
    await worker.close()
    await testnet.destroy()
  })

  it('refuses 2,000 REQs with 60 KB ids as invalid and retains less than 64 MB', async () => {
    const url = stack.url(worker.relayKey, stack.token(worker.relayKey))
    await flood(
      url,
      50,
      50,
      (i) => JSON.stringify(['REQ', `warm${i}`, { kinds: [1] }]),
      (m) => m[0] === 'EOSE',
    )
    const before = retainedBytes()
    const big = 'x'.repeat(60 * 1024)
    const samples = await flood(
      url,
      2_000,
      100,
      (i) => JSON.stringify(['REQ', `${i}-${big}`, { kinds: [1] }]),
      (m) => m[0] === 'CLOSED' || m[0] === 'EOSE',
    )
    const grown = retainedBytes() - before
    for (const m of samples) {
      expect(m[0]).to.equal('CLOSED')
      expect(m[2]).to.match(/^invalid: /)
    }
    expect(grown, `retained memory grew ${(grown / 2 ** 20).toFixed(1)} MB`).to.be.below(
      64 * 2 ** 20,
    )
  })

  it('holds at most 200 subscriptions of 60 KB REQs per session; the rest CLOSED rate-limited', async () => {
    const url = stack.url(worker.relayKey, stack.token(worker.relayKey))
    const before = retainedBytes()
    const filler = 'y'.repeat(60 * 1024)
    const ws = new WebSocket(url)
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
    let eose = 0
    let limited = 0
    const other: unknown[][] = []
    let wake: (() => void) | null = null
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as unknown[]
      if (m[0] === 'EOSE') eose++
      else if (m[0] === 'CLOSED' && String(m[2]).startsWith('rate-limited: ')) limited++
      else other.push(m.map((x) => (typeof x === 'string' ? x.slice(0, 80) : x)))
      wake?.()
    })
    for (let sent = 0; sent < 2_000;) {
      for (const until = sent + 100; sent < until; sent++) {
        ws.send(JSON.stringify(['REQ', `s${sent}`, { kinds: [1], '#t': [filler] }]))
      }
      while (eose + limited + other.length < sent) {
        await new Promise<void>((resolve) => (wake = resolve))
      }
    }
    expect(other).to.deep.equal([])
    const [session] = stack.proxy.sessions.list().filter((s) => s.subscriptionIds.length > 0)
    expect(eose).to.equal(200)
    expect(limited).to.equal(1_800)
    expect(session?.subscriptionIds).to.have.length(200)
    const grown = retainedBytes() - before
    expect(grown, `retained memory grew ${(grown / 2 ** 20).toFixed(1)} MB`).to.be.below(
      64 * 2 ** 20,
    )
    ws.close()
  })
})

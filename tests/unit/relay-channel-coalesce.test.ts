import { expect } from 'chai'
import Protomux from 'protomux'
import { RelayChannel } from '../../shared/protocol/relay-channel.js'
import { Router } from '../../shared/protocol/router.js'
import { Capability } from '../../shared/protocol/wire.js'
import { createFramedPair } from '../helpers/framed-pair.js'
import type { FramedEnd } from '../helpers/framed-pair.js'

// A Protomux batch frame starts with a zero channel id and a zero type; a plain message does not.
const isBatch = (frame: Buffer | undefined): boolean => frame?.[0] === 0 && frame[1] === 0

// Requests, answers and pushes of one loop turn share a write, towards a peer that pipelines.
describe('relay-v2 channel: what one loop turn sends is coalesced', () => {
  let a: FramedEnd
  let b: FramedEnd
  let client: RelayChannel
  let server: RelayChannel

  async function open(clientCaps: string[]): Promise<void> {
    ;[a, b] = createFramedPair()
    // Answers one microtask later, as RelayHost's async routes do.
    const router = new Router().post('/later', async (req) => {
      await null
      return { statusCode: 200, body: req.body }
    })
    const ours = [Capability.TEXT_BODY, Capability.PIPELINE]
    client = new RelayChannel(a, { isServer: false, capabilities: clientCaps })
    server = new RelayChannel(b, { isServer: true, router, capabilities: ours })
    await Promise.all([client.opened(), server.opened()])
  }

  afterEach(async () => {
    await client.close()
    await server.close()
  })

  const later = (body: string) => client.request({ method: 'POST', path: '/later', body })

  it('answers a corked batch in one write when both ends speak pipeline', async () => {
    await open([Capability.TEXT_BODY, Capability.PIPELINE])
    const before = b.written.length
    client.cork()
    const calls = ['1', '2', '3'].map(later)
    client.uncork()
    expect((await Promise.all(calls)).map((r) => r.body)).to.deep.equal(['1', '2', '3'])
    const frames = b.written.slice(before)
    // The first answer leaves at once; the two that follow in the same tick share one batch.
    expect(frames).to.have.length(2)
    expect(isBatch(frames[0])).to.equal(false)
    expect(isBatch(frames[1])).to.equal(true)
  })

  it('sends the requests of one loop turn in two writes, whoever sends them', async () => {
    await open([Capability.TEXT_BODY, Capability.PIPELINE])
    const before = a.written.length
    // Three senders that know nothing of each other (sessions whose client frames arrived in
    // one poll phase), each with its own call.
    const calls = ['1', '2', '3'].map(later)
    expect(a.written.length - before).to.equal(1)
    await new Promise((resolve) => setImmediate(resolve))
    const frames = a.written.slice(before)
    expect(frames).to.have.length(2)
    expect(isBatch(frames[0])).to.equal(false)
    expect(isBatch(frames[1])).to.equal(true)
    expect((await Promise.all(calls)).map((r) => r.body)).to.deep.equal(['1', '2', '3'])
  })

  it('sends a lone answer at once as a plain frame', async () => {
    await open([Capability.TEXT_BODY, Capability.PIPELINE])
    const before = b.written.length
    expect((await later('x')).body).to.equal('x')
    expect(b.written).to.have.length(before + 1)
    expect(isBatch(b.written[before])).to.equal(false)
  })

  it('coalesces pushes of one tick', async () => {
    await open([Capability.TEXT_BODY, Capability.PIPELINE])
    const got: unknown[] = []
    client.on('wsframe', (f: unknown) => got.push(f))
    const before = b.written.length
    for (const n of [1, 2, 3, 4]) server.sendWsFrame({ connectionKey: 'k', data: String(n) })
    await new Promise((resolve) => setImmediate(resolve))
    expect(b.written.length - before).to.equal(2)
    expect(got.map((f) => (f as { data: string }).data)).to.deep.equal(['1', '2', '3', '4'])
  })

  it('releases a cork taken before the channel closed (the stream is corked as a whole)', async () => {
    await open([Capability.TEXT_BODY, Capability.PIPELINE])
    const mux = Protomux.from(a) as unknown as { corked: number }
    client.cork()
    await client.close()
    client.uncork()
    client.uncork()
    expect(mux.corked).to.equal(0)
  })

  it('keeps one frame per answer towards a peer without pipeline (legacy gateways)', async () => {
    await open([Capability.TEXT_BODY])
    const before = b.written.length
    client.cork()
    const calls = ['1', '2', '3'].map(later)
    client.uncork()
    await Promise.all(calls)
    const frames = b.written.slice(before)
    expect(frames).to.have.length(3)
    expect(frames.some(isBatch)).to.equal(false)
  })
})

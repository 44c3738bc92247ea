import { expect } from 'chai'
import { once } from 'node:events'
import { duplexPair } from 'node:stream'
import type { Duplex } from 'node:stream'
import { TunnelEdge } from '../../proxy/tunnel-edge.js'
import type { TunnelEdgeCut } from '../../proxy/tunnel-edge.js'
import { closeFrame } from '../../proxy/ws-frame-scanner.js'
import { SWITCHING_PROTOCOLS, wsFrame, wsFrameHeader } from '../helpers/ws-bytes.js'

const DEADLINE_MS = 50

interface Harness {
  edge: TunnelEdge
  /** The proxy's end of the client connection (what the edge wraps). */
  socket: Duplex
  /** Bytes the client received. */
  toClient: Buffer[]
  /** Bytes the edge passed on towards the worker. */
  toWorker: Buffer[]
  cuts: TunnelEdgeCut[]
  /** Sends bytes from the client. */
  client: Duplex
  /** Resolves when the client got the end of the connection (FIN). */
  clientEnded: Promise<unknown>
}

// The client's connection is a duplex pair: one side is the proxy's socket, the other the client.
function harness(): Harness {
  const [socket, client] = duplexPair()
  const toClient: Buffer[] = []
  const toWorker: Buffer[] = []
  const cuts: TunnelEdgeCut[] = []
  client.on('data', (b: Buffer) => toClient.push(b))
  const edge = new TunnelEdge(socket, {
    maxFrameBytes: 1024,
    closeDeadlineMs: DEADLINE_MS,
    onCut: (cut) => cuts.push(cut),
  })
  edge.on('data', (b: Buffer) => toWorker.push(b))
  edge.write(SWITCHING_PROTOCOLS)
  const clientEnded = once(client, 'end')
  return { edge, socket, toClient, toWorker, cuts, client, clientEnded }
}

// Writes from the worker's side and waits until they reached the client.
async function fromWorker(h: Harness, bytes: Buffer): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    h.edge.write(bytes, (err) => (err ? reject(err) : resolve())),
  )
  await new Promise((resolve) => setImmediate(resolve))
}

const received = (h: Harness): Buffer =>
  Buffer.concat(h.toClient).subarray(SWITCHING_PROTOCOLS.length)

describe('TunnelEdge: a close that finds no frame boundary (review F3)', function () {
  this.timeout(5_000)

  it('cuts a revoked client whose worker sent a frame header and stalled, at the deadline', async () => {
    const h = harness()
    const partial = Buffer.concat([wsFrameHeader(0x2, 1_000_000), Buffer.alloc(10, 7)])
    await fromWorker(h, partial)
    const started = performance.now()
    h.edge.closeWith(4403, 'token revoked')
    await once(h.socket, 'close')
    expect(performance.now() - started).to.be.at.least(DEADLINE_MS - 2)
    expect(h.cuts).to.deep.equal(['close_deadline'])
    expect(h.edge.cut).to.equal('close_deadline')
    expect(h.edge.closeCode).to.equal(4403)
    // No close frame went out after half a frame: the client saw the bytes and a cut.
    expect(received(h)).to.deep.equal(partial)
  })

  it('cuts a client whose worker trickles one endless frame, byte by byte', async () => {
    const h = harness()
    await fromWorker(h, wsFrameHeader(0x1, 2n ** 40n))
    const trickle = setInterval(() => h.edge.write(Buffer.from('x')), 5).unref()
    try {
      h.edge.closeWith(1001, 'gateway shutting down')
      await once(h.socket, 'close')
    } finally {
      clearInterval(trickle)
    }
    expect(h.cuts).to.deep.equal(['close_deadline'])
  })

  it('closes at the boundary (no cut) when the frame ends before the deadline', async () => {
    const h = harness()
    const frame = wsFrame(0x1, Buffer.from('a frame in two writes'))
    await fromWorker(h, frame.subarray(0, 5))
    h.edge.closeWith(4403, 'token revoked')
    await fromWorker(h, frame.subarray(5))
    await h.clientEnded
    expect(received(h)).to.deep.equal(Buffer.concat([frame, closeFrame(4403, 'token revoked')]))
    expect(h.cuts).to.deep.equal([])
    expect(h.edge.cut).to.equal(null)
  })

  it('cuts a worker frame whose length is past 2^53 (a protocol violation)', async () => {
    const h = harness()
    const good = wsFrame(0x1, Buffer.from('fine'))
    await fromWorker(h, good)
    h.edge.write(Buffer.concat([wsFrameHeader(0x2, 2n ** 63n), Buffer.alloc(50)]))
    await once(h.socket, 'close')
    expect(h.cuts).to.deep.equal(['frame_length'])
    expect(received(h)).to.deep.equal(good)
  })

  it('cuts it too when a close was waiting in the middle of that header', async () => {
    const h = harness()
    const head = wsFrameHeader(0x2, 2n ** 53n + 1n)
    await fromWorker(h, head.subarray(0, 3))
    h.edge.closeWith(4403, 'token revoked')
    h.edge.write(head.subarray(3))
    await once(h.socket, 'close')
    expect(h.cuts).to.deep.equal(['frame_length'])
  })

  it("never sends a second close frame after the worker's own, split across writes", async () => {
    const h = harness()
    const workerClose = closeFrame(1000, 'bye')
    await fromWorker(h, workerClose.subarray(0, 2))
    h.edge.closeWith(4403, 'token revoked')
    await fromWorker(h, workerClose.subarray(2))
    await h.clientEnded
    expect(received(h)).to.deep.equal(workerClose)
  })

  it('keeps the first close decided while it waits for a boundary (a later 1001 does not replace a 4403)', async () => {
    const h = harness()
    const frame = wsFrame(0x1, Buffer.from('a frame in two writes'))
    await fromWorker(h, frame.subarray(0, 5))
    h.edge.closeWith(4403, 'token revoked')
    // Shutdown or a lost worker while the revocation waits: the client must still learn why.
    h.edge.closeWith(1001, 'gateway shutting down')
    await fromWorker(h, frame.subarray(5))
    await h.clientEnded
    expect(received(h)).to.deep.equal(Buffer.concat([frame, closeFrame(4403, 'token revoked')]))
    expect(h.edge.closeCode).to.equal(4403)
  })

  it('passes nothing of the client on once a close is decided, a frame over the limit included', async () => {
    const h = harness()
    const before = wsFrame(0x1, Buffer.from('["REQ","s",{}]'), { masked: true })
    h.client.write(before)
    await once(h.edge, 'data')
    // The worker is mid-frame, so the 1009 must wait: the big frame's payload must not pass.
    await fromWorker(h, wsFrameHeader(0x2, 500))
    const tooBig = wsFrame(0x1, Buffer.alloc(2000, 0x5b), { masked: true })
    const after = wsFrame(0x1, Buffer.from('["CLOSE","s"]'), { masked: true })
    h.client.write(Buffer.concat([wsFrame(0x9, Buffer.alloc(0), { masked: true }), tooBig, after]))
    await once(h.socket, 'close')
    expect(h.cuts).to.deep.equal(['close_deadline'])
    expect(h.edge.closeCode).to.equal(1009)
    const ping = wsFrame(0x9, Buffer.alloc(0), { masked: true })
    expect(Buffer.concat(h.toWorker).subarray(before.length)).to.have.length(ping.length)
  })
})

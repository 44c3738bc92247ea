import { expect } from 'chai'
import fc from 'fast-check'
import { once } from 'node:events'
import { duplexPair } from 'node:stream'
import { TunnelEdge } from '../../proxy/tunnel-edge.js'
import { closeFrame } from '../../proxy/ws-frame-scanner.js'
import { SWITCHING_PROTOCOLS, wsFrameHeader } from '../helpers/ws-bytes.js'
import { encodeFrame, fuzzFrame } from './frames.js'
import { fuzzBudget } from './fuzz-budget.js'
import { trapUncaught } from './trap-uncaught.js'

const LIMIT = 300

/** Where the worker's output stands when the client's bytes arrive. */
type WorkerState = 'before-101' | 'between-frames' | 'mid-frame'

interface Outcome {
  toWorker: Buffer
  /** What the client received after the 101 (and the worker's partial frame). */
  toClient: Buffer
  cut: string | null
}

// The client's bytes in the pieces given, through one edge; resolves when the edge is done.
async function run(bytes: Buffer, cuts: number[], state: WorkerState): Promise<Outcome> {
  const [socket, client] = duplexPair()
  const toClient: Buffer[] = []
  client.on('data', (b: Buffer) => toClient.push(b))
  const edge = new TunnelEdge(socket, { maxFrameBytes: LIMIT, closeDeadlineMs: 5 })
  const toWorker: Buffer[] = []
  edge.on('data', (b: Buffer) => toWorker.push(b))
  const closed = once(edge, 'close')
  const clientEnded = once(client, 'end')
  let sent = 0
  if (state !== 'before-101') {
    const worker: Buffer[] = [SWITCHING_PROTOCOLS]
    if (state === 'mid-frame') worker.push(wsFrameHeader(0x2, 1000))
    for (const b of worker) edge.write(b)
    sent = Buffer.concat(worker).length
  }
  const points = [0, ...cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b), bytes.length]
  for (let i = 1; i < points.length; i++) {
    client.write(bytes.subarray(points[i - 1], points[i]))
  }
  client.end()
  await Promise.race([once(edge, 'end'), closed])
  // A close waiting for the worker's frame to end: the deadline decides.
  if (edge.closeCode !== null && !socket.writableEnded) await closed
  if (socket.writableEnded) await clientEnded
  edge.destroy()
  return {
    toWorker: Buffer.concat(toWorker),
    toClient: Buffer.concat(toClient).subarray(sent),
    cut: edge.cut,
  }
}

// An independent reading of the client's bytes (whole buffer, BigInt lengths): the offset and
// header size of the first frame over the limit, or null when every complete header is within it.
function firstOversized(bytes: Buffer): { at: number; headerLength: number } | null {
  let at = 0
  while (at + 2 <= bytes.length) {
    const b1 = bytes[at + 1] as number
    const len7 = b1 & 0x7f
    const headerLength = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0)
    if (at + headerLength > bytes.length) return null
    const length =
      len7 === 126
        ? BigInt(bytes.readUInt16BE(at + 2))
        : len7 === 127
          ? bytes.readBigUInt64BE(at + 2)
          : BigInt(len7)
    if (length > BigInt(LIMIT)) return { at, headerLength }
    at += headerLength + Number(length)
  }
  return null
}

// Where the piece holding byte `index` begins: a header split over pieces was partly passed on.
function pieceStart(index: number, bytes: Buffer, cuts: number[]): number {
  const points = cuts.map((c) => c % (bytes.length + 1)).filter((c) => c <= index)
  return Math.max(0, ...points)
}

const clientBytes = fc.oneof(
  fc.array(fuzzFrame, { maxLength: 6 }).map((fs) => Buffer.concat(fs.map(encodeFrame))),
  fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b)),
  fc
    .tuple(fc.array(fuzzFrame, { maxLength: 3 }), fc.uint8Array({ maxLength: 100 }))
    .map(([fs, tail]) => Buffer.concat([...fs.map(encodeFrame), tail])),
)
const splits = fc.array(fc.nat(), { maxLength: 12 })
const workerState = fc.constantFrom<WorkerState>('before-101', 'between-frames', 'mid-frame')

// Issue 13 loose end: a client sending anything at all on a tunnelled WebSocket, in any
// chunking. The edge follows headers only; it must never throw, must refuse an oversized
// frame before one byte of its payload reaches the worker, and pass everything else unchanged.
describe('tunnel edge fuzz: any bytes from the client, split anywhere', function () {
  this.timeout(60_000)
  const trap = trapUncaught()

  afterEach(() => expect(trap.errors.map(String)).to.deep.equal([]))
  after(() => trap.release())

  it('passes what is within the limit byte-exact and refuses the rest (1009) before its payload', async () => {
    await fc.assert(
      fc.asyncProperty(clientBytes, splits, workerState, async (bytes, cuts, state) => {
        const out = await run(bytes, cuts, state)
        const over = firstOversized(bytes)
        if (over === null) {
          expect(out.toWorker.equals(bytes), 'byte-exact to the worker').to.equal(true)
          expect(out.toClient.length).to.equal(0)
          expect(out.cut).to.equal(null)
          return
        }
        // The frames before the oversized one and at most its header's first bytes; no payload.
        const passed = Math.max(over.at, pieceStart(over.at + over.headerLength - 1, bytes, cuts))
        expect(out.toWorker.equals(bytes.subarray(0, passed)), 'a prefix').to.equal(true)
        expect(out.toWorker.length).to.be.below(over.at + over.headerLength)
        if (state === 'between-frames') {
          expect(out.toClient.equals(closeFrame(1009, 'frame too large'))).to.equal(true)
        } else if (state === 'mid-frame') {
          // The 1009 would land inside the worker's frame: the deadline cuts instead.
          expect(out.cut).to.equal('close_deadline')
          expect(out.toClient.length).to.equal(0)
        } else expect(out.toClient.length).to.equal(0) // no WebSocket yet: dropped
      }),
      fuzzBudget(),
    )
  })

  it('carries a valid frame sequence through byte-exact, whatever the chunking', async () => {
    const honest = fuzzFrame
      .filter((f) => f.payload.length <= LIMIT)
      .map((f) => ({ ...f, declared: null }))
    await fc.assert(
      fc.asyncProperty(
        fc.array(honest, { minLength: 1, maxLength: 8 }),
        splits,
        async (fs, cuts) => {
          const bytes = Buffer.concat(fs.map(encodeFrame))
          const out = await run(bytes, cuts, 'between-frames')
          expect(out.toWorker.equals(bytes)).to.equal(true)
          expect(out.cut).to.equal(null)
        },
      ),
      fuzzBudget(),
    )
  })
})

import { expect } from 'chai'
import { closeFrame, WsFrameScanner } from '../../proxy/ws-frame-scanner.js'

// A frame as a client sends it (masked) or a server does (unmasked), with any length encoding.
function frame(opcode: number, payload: Buffer, masked: boolean): Buffer {
  const len = payload.length
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8
  const head = Buffer.alloc(2 + ext + (masked ? 4 : 0))
  head[0] = 0x80 | opcode
  head[1] = (masked ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127)
  if (ext === 2) head.writeUInt16BE(len, 2)
  if (ext === 8) head.writeBigUInt64BE(BigInt(len), 2)
  return Buffer.concat([head, payload])
}

describe('WsFrameScanner (frame boundaries without reading payloads)', () => {
  const frames = [
    frame(0x1, Buffer.from('hello'), true),
    frame(0x2, Buffer.alloc(300, 1), false),
    frame(0x1, Buffer.alloc(70_000, 2), true),
    frame(0x9, Buffer.alloc(0), false),
    frame(0x8, Buffer.from([0x03, 0xe8]), true),
  ]
  const bytes = Buffer.concat(frames)

  it('reports every header and ends at a boundary, whatever the chunking', () => {
    for (const size of [1, 2, 3, 7, 100, 4096, bytes.length]) {
      const seen: Array<[number, number]> = []
      const scanner = new WsFrameScanner((op, len) => (seen.push([op, len]), true))
      let scanned = 0
      for (let at = 0; at < bytes.length; at += size) {
        scanned += scanner.scan(bytes.subarray(at, at + size))
      }
      expect(scanned).to.equal(bytes.length)
      expect(seen).to.deep.equal([
        [1, 5],
        [2, 300],
        [1, 70_000],
        [9, 0],
        [8, 2],
      ])
      expect(scanner.atBoundary).to.equal(true)
    }
  })

  it('stops just past the first frame that ends when asked to', () => {
    const scanner = new WsFrameScanner()
    const first = (frames[0] as Buffer).length
    expect(scanner.scan(bytes.subarray(0, 3))).to.equal(3)
    expect(scanner.atBoundary).to.equal(false)
    expect(scanner.scan(bytes, 3, true)).to.equal(first)
    expect(scanner.atBoundary).to.equal(true)
  })

  it('refuses a frame over the limit from its header alone (-1)', () => {
    const scanner = new WsFrameScanner((_op, len) => len <= 1024)
    expect(scanner.scan((frames[0] as Buffer).subarray())).to.equal((frames[0] as Buffer).length)
    // 2 + 8 (64-bit length) + 4 (mask) header bytes; no payload byte needed to decide.
    expect(scanner.scan((frames[2] as Buffer).subarray(0, 14))).to.equal(-1)
  })

  it('says where the refused header began, in its chunk or at the chunk start when split', () => {
    const small = frames[0] as Buffer
    const big = (frames[2] as Buffer).subarray(0, 14)
    const whole = new WsFrameScanner((_op, len) => len <= 1024)
    expect(whole.scan(Buffer.concat([small, big]))).to.equal(-1)
    expect(whole.refusedAt).to.equal(small.length)
    const split = new WsFrameScanner((_op, len) => len <= 1024)
    expect(split.scan(Buffer.concat([small, big.subarray(0, 5)]))).to.equal(small.length + 5)
    expect(split.scan(big.subarray(5))).to.equal(-1)
    expect(split.refusedAt).to.equal(0)
  })

  it('reads a 64-bit length past 2^53 as infinite instead of wrapping', () => {
    const head = Buffer.from([
      0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,
    ])
    let length = 0
    new WsFrameScanner((_op, len) => ((length = len), false)).scan(head)
    expect(length).to.equal(Infinity)
  })

  it('writes a close frame a client parses: opcode 8, code, reason', () => {
    const f = closeFrame(1001, 'worker lost')
    expect(f[0]).to.equal(0x88)
    expect(f[1]).to.equal(2 + 'worker lost'.length)
    expect(f.readUInt16BE(2)).to.equal(1001)
    expect(f.subarray(4).toString()).to.equal('worker lost')
  })
})

import fc from 'fast-check'

/** One WebSocket frame as the fuzzer builds it, before encoding. */
export interface FuzzFrame {
  fin: boolean
  /** RSV1-3 as a 3-bit number; anything but 0 is a protocol error without extensions. */
  rsv: number
  /** 0-15: continuation, text, binary, five reserved data, close, ping, pong, five reserved. */
  opcode: number
  masked: boolean
  mask: Uint8Array
  /** The length the header declares, independent of the bytes that follow (up to 2^64-1). */
  declared: bigint | null
  /** 7-bit, 16-bit or 64-bit length encoding, when `declared` is set. */
  lengthForm: 7 | 16 | 64
  payload: Uint8Array
}

// Close payloads: a code from every range RFC 6455 7.4 names (valid, reserved, out of range)
// and a reason that may be invalid UTF-8.
const closePayload = fc
  .tuple(
    fc.oneof(
      fc.constantFrom(1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1011, 1015, 4403),
      fc.integer({ min: 0, max: 65_535 }),
    ),
    fc.oneof(
      fc.string({ maxLength: 40 }).map((s) => Buffer.from(s)),
      invalidUtf8(),
    ),
  )
  .map(([code, reason]) => {
    const out = Buffer.alloc(2 + reason.length)
    out.writeUInt16BE(code, 0)
    Buffer.from(reason).copy(out, 2)
    return new Uint8Array(out)
  })

/** Byte strings that are not UTF-8: lone continuation bytes, overlongs, surrogates, truncation. */
export function invalidUtf8(): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(
      fc.string({ maxLength: 20 }),
      fc.constantFrom(
        [0x80],
        [0xc0, 0xaf],
        [0xe0, 0x80, 0xaf],
        [0xed, 0xa0, 0x80],
        [0xf4, 0x90, 0x80, 0x80],
        [0xff],
        [0xe2, 0x82],
        [0xf0, 0x9f, 0x98],
      ),
      fc.string({ maxLength: 20 }),
    )
    .map(([a, bad, b]) => new Uint8Array([...Buffer.from(a), ...bad, ...Buffer.from(b)]))
}

const nostrText = fc
  .oneof(
    fc.constant('["REQ","s",{"limit":1}]'),
    fc.constant('["CLOSE","s"]'),
    fc.constant('["EVENT",{}]'),
    fc.json({ maxDepth: 3 }),
    fc.string({ maxLength: 200 }),
  )
  .map((s) => new Uint8Array(Buffer.from(s)))

const payload = fc.oneof(nostrText, invalidUtf8(), closePayload, fc.uint8Array({ maxLength: 300 }))

// Declared lengths: honest (null), small lies, the 16-bit edge, and 64-bit values up to 2^64-1
// (2^63 and above have the most significant bit set, which RFC 6455 forbids).
const declared = fc.oneof(
  { weight: 4, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 200n }) },
  { weight: 1, arbitrary: fc.constantFrom(125n, 126n, 65_535n, 65_536n, 2n ** 31n) },
  { weight: 1, arbitrary: fc.constantFrom(2n ** 53n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) },
)

/** Any frame: every opcode, RSV bits, masked or not, lengths up to 2^64-1. */
export const fuzzFrame: fc.Arbitrary<FuzzFrame> = fc.record({
  fin: fc.boolean(),
  rsv: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, fc.integer({ min: 0, max: 7 })),
  opcode: fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(0x0, 0x1, 0x2, 0x8, 0x9, 0xa) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) },
  ),
  masked: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, fc.constant(false)),
  mask: fc.uint8Array({ minLength: 4, maxLength: 4 }),
  declared,
  lengthForm: fc.constantFrom(7 as const, 16 as const, 64 as const),
  payload,
})

/** A message split into fragments (text or binary first, continuations after), maybe wrong. */
export const fragmentedMessage: fc.Arbitrary<FuzzFrame[]> = fc
  .tuple(fc.constantFrom(0x1, 0x2), fc.array(payload, { minLength: 2, maxLength: 4 }), fc.boolean())
  .map(([opcode, parts, finishes]) =>
    parts.map((part, i) => ({
      fin: finishes && i === parts.length - 1,
      rsv: 0,
      opcode: i === 0 ? opcode : 0,
      masked: true,
      mask: new Uint8Array([1, 2, 3, 4]),
      declared: null,
      lengthForm: 7 as const,
      payload: part,
    })),
  )

/** The frames one connection sends: single frames, fragments and interleaved control frames. */
export const frameSequence: fc.Arbitrary<FuzzFrame[]> = fc
  .array(
    fc.oneof(
      fuzzFrame.map((f) => [f]),
      fragmentedMessage,
    ),
    { minLength: 1, maxLength: 4 },
  )
  .map((groups) => groups.flat())

/** The bytes of a frame exactly as described, lies included. */
export function encodeFrame(f: FuzzFrame): Uint8Array {
  const length = f.declared ?? BigInt(f.payload.length)
  // The smallest honest form unless a lie asks for a specific one.
  const form = f.declared === null ? (length < 126n ? 7 : length < 65_536n ? 16 : 64) : f.lengthForm
  const head: number[] = [(f.fin ? 0x80 : 0) | ((f.rsv & 7) << 4) | (f.opcode & 0xf)]
  const maskBit = f.masked ? 0x80 : 0
  if (form === 7) head.push(maskBit | Number(length & 0x7fn))
  else if (form === 16) {
    head.push(maskBit | 126, Number((length >> 8n) & 0xffn), Number(length & 0xffn))
  } else {
    head.push(maskBit | 127)
    for (let shift = 56n; shift >= 0n; shift -= 8n) head.push(Number((length >> shift) & 0xffn))
  }
  const body = new Uint8Array(f.payload)
  if (f.masked) {
    head.push(...f.mask)
    for (let i = 0; i < body.length; i++) body[i] = (body[i] as number) ^ (f.mask[i % 4] as number)
  }
  return new Uint8Array([...head, ...body])
}

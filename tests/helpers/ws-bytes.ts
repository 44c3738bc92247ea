import { randomBytes } from 'node:crypto'

/**
 * Raw WebSocket bytes for tests that play one end of a tunnelled session by hand:
 * frames in any length encoding, masked (client to server) or not.
 */
export function wsFrame(
  opcode: number,
  payload: Buffer,
  opts: { masked?: boolean; fin?: boolean } = {},
): Buffer {
  const { masked = false, fin = true } = opts
  const head = wsFrameHeader(opcode, payload.length, { masked, fin })
  if (!masked) return Buffer.concat([head, payload])
  const mask = head.subarray(head.length - 4)
  const body = Buffer.from(payload)
  for (let i = 0; i < body.length; i++) body[i] = (body[i] as number) ^ (mask[i % 4] as number)
  return Buffer.concat([head, body])
}

/** A frame header announcing `length` payload bytes (a bigint for lengths past 2^53). */
export function wsFrameHeader(
  opcode: number,
  length: number | bigint,
  opts: { masked?: boolean; fin?: boolean } = {},
): Buffer {
  const { masked = false, fin = true } = opts
  const n = BigInt(length)
  const ext = n < 126n ? 0 : n < 65536n ? 2 : 8
  const head = Buffer.alloc(2 + ext + (masked ? 4 : 0))
  head[0] = (fin ? 0x80 : 0) | opcode
  head[1] = (masked ? 0x80 : 0) | (ext === 0 ? Number(n) : ext === 2 ? 126 : 127)
  if (ext === 2) head.writeUInt16BE(Number(n), 2)
  if (ext === 8) head.writeBigUInt64BE(n, 2)
  if (masked) randomBytes(4).copy(head, 2 + ext)
  return head
}

/** The 101 a WebSocket server answers with (the accept key is not checked by the edge). */
export const SWITCHING_PROTOCOLS = Buffer.from(
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
  'latin1',
)

import { once } from 'node:events'
import { connect } from 'node:net'
import type { Socket } from 'node:net'

/** A TCP socket that completed (or was refused) a WebSocket upgrade, written on by hand. */
export interface RawUpgrade {
  socket: Socket
  /** The status line the server answered with, e.g. `HTTP/1.1 101 Switching Protocols`. */
  status: string
  /** Every byte received after the response head. */
  received: Buffer[]
  /** Resolves when the socket is fully closed (either side). */
  closed: Promise<void>
  write(bytes: Uint8Array): void
}

const KEY = 'dGhlIHNhbXBsZSBub25jZQ=='

/**
 * Opens a TCP connection, sends an upgrade request for `path` with `headers` and resolves once
 * the response head arrived. No WebSocket library on this side: what is written is exactly the
 * bytes the test gives.
 */
export async function rawUpgrade(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<RawUpgrade> {
  const socket = connect({ host: '127.0.0.1', port })
  socket.on('error', () => {})
  const closed = once(socket, 'close').then(() => undefined)
  await once(socket, 'connect')
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${KEY}`,
    'Sec-WebSocket-Version: 13',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ]
  socket.write(`${lines.join('\r\n')}\r\n\r\n`)
  const received: Buffer[] = []
  const status = await new Promise<string>((resolve, reject) => {
    let head = Buffer.alloc(0)
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk])
      const end = head.indexOf('\r\n\r\n')
      if (end === -1) return
      socket.off('data', onData)
      socket.off('close', onClose)
      socket.on('data', (more: Buffer) => received.push(more))
      if (head.length > end + 4) received.push(head.subarray(end + 4))
      resolve(head.subarray(0, head.indexOf('\r\n')).toString())
    }
    const onClose = (): void => reject(new Error('closed before a response head'))
    socket.on('data', onData)
    socket.once('close', onClose)
  })
  return {
    socket,
    status,
    received,
    closed,
    write(bytes) {
      if (!socket.destroyed) socket.write(bytes)
    },
  }
}

/** The reserved-opcode frame from issue 9: FIN + opcode 3, masked, one byte. */
export const RESERVED_OPCODE_FRAME = Uint8Array.from([0x83, 0x81, 0x41, 0x41, 0x41, 0x41, 0x78])

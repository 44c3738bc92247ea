import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { wsFrame, wsFrameHeader } from './ws-bytes.js'

/** What the service sends after its 101 and one small text frame. */
export type StallMode =
  /** A header for a 1 MB frame and ten payload bytes, then nothing. */
  | 'stall'
  /** A header for a 50 MB frame (under ws's 100 MiB maxPayload), then a byte every 20 ms. */
  | 'trickle'
  /** A header whose 64-bit length has the top bit set (RFC 6455 forbids it). */
  | 'huge-length'

/** A hostile WebSocket service for tunnel tests: it never lets its frame end. */
export interface StallingWsService {
  port: number
  /** Connections open now. */
  readonly clients: number
  close(): Promise<void>
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

export async function startStallingWsService(mode: StallMode): Promise<StallingWsService> {
  const sockets = new Set<Socket>()
  const server = createServer()
  server.on('upgrade', (req, socket: Socket) => {
    socket.on('error', () => {})
    // http's sockets allow half-open: without this a FIN from the worker would leave it open.
    socket.on('end', () => socket.destroy())
    sockets.add(socket)
    const accept = createHash('sha1')
      .update(`${String(req.headers['sec-websocket-key'])}${GUID}`)
      .digest('base64')
    const head =
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${accept}\r\n\r\n`
    socket.write(head)
    // One write: once the client has the notice, the edge has seen the header behind it.
    const notice = wsFrame(0x1, Buffer.from('["NOTICE","stalling"]'))
    const length = mode === 'stall' ? 1_000_000 : mode === 'trickle' ? 50_000_000 : 2n ** 63n
    socket.write(Buffer.concat([notice, wsFrameHeader(0x2, length), Buffer.alloc(10, 0x41)]))
    if (mode === 'trickle') {
      const timer = setInterval(() => socket.write(Buffer.from('x')), 20)
      socket.once('close', () => clearInterval(timer))
    }
    socket.once('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    get clients() {
      return sockets.size
    },
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

import { randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'
import type { WebSocket } from 'ws'
import { ExampleRelay } from '../../shared/worker/example-relay.js'

/**
 * A standard Nostr relay on a loopback WebSocket port (ExampleRelay behind
 * `ws`): what a worker in tunnel mode fronts. Records each upgrade request.
 */
export interface LocalWsRelay {
  port: number
  relay: ExampleRelay
  /** Path and headers of every upgrade it accepted. */
  upgrades: Array<{ url: string; headers: IncomingMessage['headers'] }>
  /** Client sockets open now. */
  readonly clients: number
  /** Every raw message received, as text. */
  received: string[]
  close(): Promise<void>
}

export async function startLocalWsRelay(maxPayload = 16 * 1024 * 1024): Promise<LocalWsRelay> {
  const relay = new ExampleRelay()
  const sockets = new Map<string, WebSocket>()
  const upgrades: LocalWsRelay['upgrades'] = []
  const received: string[] = []
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload })
  await new Promise<void>((resolve) => wss.once('listening', resolve))
  const unsubscribe = relay.onOutput((key, line) => sockets.get(key)?.send(line))
  wss.on('connection', (ws, req) => {
    const key = randomBytes(16).toString('hex')
    sockets.set(key, ws)
    upgrades.push({ url: req.url ?? '', headers: req.headers })
    ws.on('error', () => {})
    ws.on('message', (data) => {
      const text = data.toString()
      received.push(text)
      void (async () => {
        let message: unknown
        try {
          message = JSON.parse(text)
        } catch {
          return ws.send(JSON.stringify(['NOTICE', 'invalid: not JSON']))
        }
        for (const line of await relay.handleMessage(key, message)) ws.send(line)
      })()
    })
    ws.on('close', () => {
      sockets.delete(key)
      relay.closeConnection(key)
    })
  })
  return {
    port: (wss.address() as AddressInfo).port,
    relay,
    upgrades,
    received,
    get clients() {
      return sockets.size
    },
    async close() {
      unsubscribe()
      for (const ws of sockets.values()) ws.terminate()
      await new Promise((resolve) => wss.close(resolve))
      relay.close()
    },
  }
}

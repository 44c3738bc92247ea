import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'
import type { WebSocket } from 'ws'
import type { RelayBackend } from '../shared/worker/relay-backend.js'
import { LOOPBACK } from './testnet.js'

/**
 * The baseline: the same relay backend the workers host, served straight over WebSocket with
 * no gateway in between. It does what any NIP-01 relay front does and nothing more: parse the
 * frame, hand it to the backend under a per-socket key, write back every reply line and every
 * later output line for that key.
 */
export class DirectServer {
  readonly #backend: RelayBackend
  readonly #wss: WebSocketServer
  readonly #sockets = new Map<string, WebSocket>()
  readonly #unsubscribe: () => void

  constructor(backend: RelayBackend) {
    this.#backend = backend
    // Same socket settings as the proxy (proxy-server.ts), so the two differ only by the gateway.
    this.#wss = new WebSocketServer({
      host: LOOPBACK,
      port: 0,
      perMessageDeflate: false,
      clientTracking: false,
    })
    this.#wss.on('connection', (ws) => this.#onConnection(ws))
    this.#unsubscribe = backend.onOutput((key, line) => this.#sockets.get(key)?.send(line))
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const ready = () => resolve((this.#wss.address() as AddressInfo).port)
      if (this.#wss.address() !== null) return ready()
      this.#wss.once('listening', ready)
      this.#wss.once('error', reject)
    })
  }

  close(): Promise<void> {
    this.#unsubscribe()
    for (const ws of this.#sockets.values()) ws.terminate()
    return new Promise((resolve) => this.#wss.close(() => resolve()))
  }

  #onConnection(ws: WebSocket): void {
    const key = randomBytes(16).toString('hex')
    this.#sockets.set(key, ws)
    ws.on('error', () => {})
    ws.on('close', () => {
      this.#sockets.delete(key)
      this.#backend.closeConnection(key)
    })
    ws.on('message', (data: Buffer) => {
      let message: unknown
      try {
        message = JSON.parse(data.toString('utf8'))
      } catch {
        ws.send('["NOTICE","invalid: message is not JSON"]')
        return
      }
      const reply = this.#backend.handleMessage(key, message)
      const send = (lines: string[]) => {
        for (const line of lines) ws.send(line)
      }
      if (Array.isArray(reply)) send(reply)
      else void reply.then(send)
    })
  }
}

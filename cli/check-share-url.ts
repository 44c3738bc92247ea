import { randomBytes } from 'node:crypto'
import { WebSocket } from 'ws'

/**
 * Opens the share URL as a Nostr client would and asks for nothing (`REQ` with `limit: 0`):
 * resolves with the round-trip time once the relay answers EOSE (or CLOSED, which is an answer
 * too), through the edge, the proxy, the DHT link and the worker. Rejects with the close code
 * or error otherwise.
 */
export function checkShareUrl(url: string, timeoutMs: number): Promise<number> {
  const started = Date.now()
  const id = `hypertuna-check-${randomBytes(4).toString('hex')}`
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { handshakeTimeout: timeoutMs })
    const timer = setTimeout(() => finish(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
    let done = false
    const finish = (err: Error | null) => {
      if (done) return
      done = true
      clearTimeout(timer)
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(['CLOSE', id]))
      ws.close()
      if (err === null) resolve(Date.now() - started)
      else reject(err)
    }
    ws.on('error', (err) => finish(err))
    ws.on('open', () => ws.send(JSON.stringify(['REQ', id, { limit: 0 }])))
    ws.on('message', (data) => {
      let message: unknown
      try {
        message = JSON.parse(data.toString())
      } catch {
        return
      }
      if (!Array.isArray(message) || message[1] !== id) return
      if (message[0] === 'EOSE' || message[0] === 'CLOSED') finish(null)
    })
    ws.on('close', (code, reason) =>
      finish(new Error(`the gateway closed the session: ${code} ${reason.toString()}`.trim())),
    )
  })
}

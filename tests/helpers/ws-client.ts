import { WebSocket } from 'ws'

/** A raw WebSocket client that records every message and the close code. */
export interface RawClient {
  ws: WebSocket
  messages: unknown[]
  /** Resolves with [code, reason] when the socket closes. */
  closed: Promise<[number, string]>
  /** Resolves with the first message (already received or future) satisfying `pred`. */
  next(pred: (m: unknown) => boolean): Promise<unknown>
  send(message: unknown): void
}

export function rawClient(url: string, headers: Record<string, string> = {}): Promise<RawClient> {
  const ws = new WebSocket(url, { headers })
  const messages: unknown[] = []
  const waiters: Array<{ pred: (m: unknown) => boolean; resolve: (m: unknown) => void }> = []
  const closed = new Promise<[number, string]>((resolve) =>
    ws.on('close', (code, reason) => resolve([code, reason.toString()])),
  )
  ws.on('error', () => {})
  ws.on('message', (data) => {
    let m: unknown
    try {
      m = JSON.parse(data.toString())
    } catch {
      m = data.toString()
    }
    messages.push(m)
    for (const w of [...waiters]) {
      if (!w.pred(m)) continue
      waiters.splice(waiters.indexOf(w), 1)
      w.resolve(m)
    }
  })
  const client: RawClient = {
    ws,
    messages,
    closed,
    next(pred) {
      const hit = messages.find(pred)
      if (hit !== undefined) return Promise.resolve(hit)
      return new Promise((resolve) => waiters.push({ pred, resolve }))
    },
    send(message) {
      ws.send(typeof message === 'string' ? message : JSON.stringify(message))
    },
  }
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client))
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
    ws.once('error', reject)
  })
}

/** True for a `["NOTICE", text]` message whose text starts with `prefix`. */
export const isNotice =
  (prefix = '') =>
  (m: unknown): boolean =>
    Array.isArray(m) && m[0] === 'NOTICE' && typeof m[1] === 'string' && m[1].startsWith(prefix)

import { WebSocket } from 'ws'

/**
 * The load generator's client: a raw `ws` socket handing each text frame to listeners as a
 * string, with no JSON parsing, so the bench process stays cheap next to what it measures.
 */
export class BenchSocket {
  readonly ws: WebSocket
  readonly #listeners = new Set<(line: string) => void>()

  private constructor(ws: WebSocket) {
    this.ws = ws
    ws.on('message', (data: Buffer) => {
      const line = data.toString('utf8')
      for (const listener of this.#listeners) listener(line)
    })
  }

  static connect(url: string, headers: Record<string, string> = {}): Promise<BenchSocket> {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false, handshakeTimeout: 10_000 })
    return new Promise((resolve, reject) => {
      ws.once('open', () => {
        ws.off('error', reject)
        // A socket the server drops mid-run must not crash the bench; the scenario times out.
        ws.on('error', () => {})
        resolve(new BenchSocket(ws))
      })
      ws.once('unexpected-response', (_req, res) => {
        ws.terminate()
        reject(new Error(`${url.replace(/token=[^&]*/, 'token=…')}: HTTP ${res.statusCode}`))
      })
      ws.once('error', reject)
    })
  }

  /** Adds a listener for every incoming line; returns its removal. */
  listen(listener: (line: string) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Resolves with the first line matching `pred` from now on. */
  waitFor(pred: (line: string) => boolean, timeoutMs = 10_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off()
        reject(new Error(`no matching message within ${timeoutMs} ms`))
      }, timeoutMs)
      const off = this.listen((line) => {
        if (!pred(line)) return
        clearTimeout(timer)
        off()
        resolve(line)
      })
    })
  }

  send(text: string): void {
    this.ws.send(text)
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN
  }

  /** Closes politely and waits for the close handshake (bounded). */
  close(timeoutMs = 2_000): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.ws.terminate()
        resolve()
      }, timeoutMs)
      this.ws.once('close', () => {
        clearTimeout(timer)
        resolve()
      })
      this.ws.close()
    })
  }

  terminate(): void {
    this.ws.terminate()
  }
}

/** Lines starting `["EOSE","<subId>"`. */
export const isEose =
  (subId: string) =>
  (line: string): boolean =>
    line.startsWith(`["EOSE","${subId}"`)

import type { WebSocket } from 'ws'
import type { Body, RelayResponse } from '../shared/protocol/wire.js'
import { bodyText } from '../shared/protocol/wire.js'
import { corked } from './corked-socket.js'
import type { DeliveryMode, ProxyMetrics } from './proxy-metrics.js'
import { refusal } from './refusal.js'
import type { RefusalPrefix } from './refusal.js'
import type { SubscriptionBook } from './subscription-book.js'

/**
 * What a session writes to its client: relay lines (minus what a replay
 * repeats), refusals in kind, NOTICEs. Stops writing once stopped; calls
 * `tooSlow` when the client stops reading.
 */
export class ClientOutput {
  readonly #ws: WebSocket
  readonly #book: SubscriptionBook
  readonly #metrics: ProxyMetrics
  readonly #maxBufferedBytes: number
  readonly #tooSlow: () => void
  #stopped = false

  constructor(
    ws: WebSocket,
    book: SubscriptionBook,
    metrics: ProxyMetrics,
    maxBufferedBytes: number,
    tooSlow: () => void,
  ) {
    this.#ws = ws
    this.#book = book
    this.#metrics = metrics
    this.#maxBufferedBytes = maxBufferedBytes
    this.#tooSlow = tooSlow
  }

  /** False once stopped or once the socket is no longer open. */
  get writable(): boolean {
    return !this.#stopped && this.#ws.readyState === this.#ws.OPEN
  }

  stop(): void {
    this.#stopped = true
  }

  /**
   * Runs `send` with the client socket corked, so everything it writes (the answers of a whole
   * pipelined batch) leaves in one write instead of one syscall per answer.
   */
  batch(send: () => void): void {
    corked(this.#ws, send)
  }

  /** One relay line to the client, unless it repeats what the client has. */
  line(line: string, mode: DeliveryMode): void {
    if (this.#stopped || !this.#book.admit(line)) return
    const ws = this.#ws
    if (ws.bufferedAmount > this.#maxBufferedBytes) {
      this.#metrics.limitHit('slow_client')
      return this.#tooSlow()
    }
    ws.send(line)
    const m = this.#metrics
    m.messagesOut.inc()
    m.bytesOut.inc(line.length)
    m.delivered(mode)
  }

  /** The worker's answer to `message`: its lines, or the refusal in kind for a non-200. */
  answer(message: unknown[], res: RelayResponse): void {
    if (res.statusCode !== 200) {
      this.refuse(message, 'error', `relay answered ${res.statusCode}${errorText(res.body)}`, true)
      return
    }
    const text = bodyText(res.body)
    if (text.length === 0) return
    // One write for the whole answer, not one per line (corked-socket.ts).
    corked(this.#ws, () => {
      let from = 0
      while (from < text.length && !this.#stopped) {
        let to = text.indexOf('\n', from)
        if (to === -1) to = text.length
        if (to > from) this.line(text.slice(from, to), 'response')
        from = to + 1
      }
    })
  }

  notice(text: string): void {
    if (this.writable) this.#ws.send(JSON.stringify(['NOTICE', text]))
  }

  // `forwarded`: the worker saw the message, so a CLOSED also ends the
  // subscription in the book; a refusal at admission never touches it.
  /** Refuses `message` in kind (OK false / CLOSED / NOTICE) with a NIP-01 prefix. */
  refuse(message: unknown[], prefix: RefusalPrefix, text: string, forwarded = false): void {
    if (!this.writable) return
    const line = refusal(message, prefix, text)
    if (forwarded) this.#book.admit(line)
    this.#ws.send(line)
  }
}

function errorText(body: Body): string {
  if (body === null) return ''
  try {
    const parsed = JSON.parse(bodyText(body)) as { error?: unknown }
    return typeof parsed.error === 'string' ? `: ${parsed.error.slice(0, 200)}` : ''
  } catch {
    return ''
  }
}

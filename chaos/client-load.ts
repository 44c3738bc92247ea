import { WebSocket } from 'ws'
import { eventFrame, makeEvent, randomKey } from '../bench/events.js'

/** What a scenario's clients saw, the row of the chaos table. */
export interface Tally {
  sent: number
  /** `OK true` for an EVENT, `EOSE` for a REQ. */
  answered: number
  /** `OK false`, `CLOSED`, or a NOTICE standing for an unanswered message. */
  refused: number
  /** Sent and never answered nor refused. */
  lost: number
  /** Longest time one session waited for its next answer while owed one, ms. */
  longestPauseMs: number
  /** Close codes the sessions saw, with counts. */
  closes: Map<number, number>
}

/** Options of {@link ClientLoad}. */
export interface ClientLoadOptions {
  /** A fresh session URL (token included) per connection. */
  url: () => string
  sessions: number
  /** EVENTs per session per second. */
  rate: number
  /** Reconnect after a close while running (as a client would). Default true. */
  reconnect?: boolean
}

// Answers are matched by the id the message named: an event id (OK) or a subscription id
// (EOSE/CLOSED). Lines are inspected without a full parse where a prefix says enough.
function answerOf(line: string): { id: string; ok: boolean } | 'notice' | null {
  if (line.startsWith('["OK","')) {
    const id = line.slice(7, line.indexOf('"', 7))
    return { id, ok: line.startsWith(',true', 7 + id.length + 1) }
  }
  if (line.startsWith('["EOSE","')) return { id: line.slice(9, line.indexOf('"', 9)), ok: true }
  if (line.startsWith('["CLOSED","')) {
    return { id: line.slice(11, line.indexOf('"', 11)), ok: false }
  }
  if (line.startsWith('["NOTICE"')) return 'notice'
  return null
}

// One client socket: how many answers it is owed, and since when it has waited for one.
interface Session {
  owed: number
  waitingSince: number
}

/**
 * Sessions that publish EVENTs at a steady rate (or send what a flood gives them) and count
 * every answer, refusal and silence. Bounded: it only sends while running.
 */
export class ClientLoad {
  readonly #o: ClientLoadOptions
  readonly #pending = new Map<string, Session>()
  readonly #sockets = new Set<WebSocket>()
  readonly #sessions = new Set<Session>()
  readonly #timers = new Set<NodeJS.Timeout>()
  readonly #closes = new Map<number, number>()
  readonly #pubkey = randomKey()
  #running = false
  #sent = 0
  #answered = 0
  #refused = 0
  #notices = 0
  #longestPause = 0
  #settled: (() => void) | null = null

  constructor(opts: ClientLoadOptions) {
    this.#o = opts
  }

  /** Opens the sessions and starts publishing. */
  async start(): Promise<void> {
    this.#running = true
    await Promise.all(Array.from({ length: this.#o.sessions }, () => this.#open()))
  }

  /** Sends `frames` on one more session as fast as it takes them, counting answers by id. */
  async flood(frames: ReadonlyArray<{ id: string; text: string }>): Promise<void> {
    const { ws, session } = await this.#connect()
    for (const frame of frames) {
      if (ws.readyState !== WebSocket.OPEN) break
      this.#owe(session, frame.id)
      await new Promise<void>((resolve) => ws.send(frame.text, () => resolve()))
    }
  }

  /** Stops sending, waits up to `graceMs` for the answers still owed, closes every session. */
  async stop(graceMs = 3_000): Promise<Tally> {
    this.#running = false
    for (const timer of this.#timers) clearInterval(timer)
    this.#timers.clear()
    if (this.#pending.size > this.#notices) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs)
        this.#settled = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
    this.#settled = null
    // A session still owed answers at the end has waited until now (grace included).
    const now = performance.now()
    for (const session of this.#sessions) this.#endWait(session, now)
    const closing = [...this.#sockets].map(
      (ws) => new Promise<void>((resolve) => (ws.once('close', () => resolve()), ws.close())),
    )
    await Promise.race([Promise.all(closing), new Promise((r) => setTimeout(r, 2_000))])
    for (const ws of this.#sockets) ws.terminate()
    const unanswered = this.#pending.size
    // A NOTICE refuses a message without naming it: it accounts for one unanswered message.
    const noticed = Math.min(this.#notices, unanswered)
    return {
      sent: this.#sent,
      answered: this.#answered,
      refused: this.#refused + noticed,
      lost: unanswered - noticed,
      longestPauseMs: this.#longestPause,
      closes: this.#closes,
    }
  }

  async #open(): Promise<void> {
    let opened: { ws: WebSocket; session: Session }
    try {
      opened = await this.#connect()
    } catch {
      this.#retry()
      return
    }
    const { ws, session } = opened
    const timer = setInterval(() => {
      if (ws.readyState !== WebSocket.OPEN || !this.#running) return
      const event = makeEvent(this.#pubkey, 1, [['t', 'chaos']])
      this.#owe(session, event.id)
      ws.send(eventFrame(event))
    }, 1000 / this.#o.rate)
    this.#timers.add(timer)
    ws.once('close', () => {
      clearInterval(timer)
      this.#timers.delete(timer)
      this.#retry()
    })
  }

  #retry(): void {
    if (!this.#running || this.#o.reconnect === false) return
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      void this.#open()
    }, 250)
    this.#timers.add(timer)
  }

  #connect(): Promise<{ ws: WebSocket; session: Session }> {
    const ws = new WebSocket(this.#o.url(), { perMessageDeflate: false, handshakeTimeout: 5_000 })
    const session: Session = { owed: 0, waitingSince: 0 }
    ws.on('error', () => {})
    ws.on('message', (data: Buffer) => this.#onLine(session, data.toString('utf8')))
    ws.once('close', (code: number) => {
      this.#sockets.delete(ws)
      this.#closes.set(code, (this.#closes.get(code) ?? 0) + 1)
      // Whatever it was owed will not come on this socket: its wait ends here.
      this.#endWait(session, performance.now())
      this.#sessions.delete(session)
    })
    this.#sockets.add(ws)
    this.#sessions.add(session)
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve({ ws, session }))
      ws.once('close', () => reject(new Error('closed before open')))
    })
  }

  #owe(session: Session, id: string): void {
    if (session.owed === 0) session.waitingSince = performance.now()
    session.owed++
    this.#sent++
    this.#pending.set(id, session)
  }

  #onLine(session: Session, line: string): void {
    const answer = answerOf(line)
    if (answer === null) return
    // A NOTICE refuses something without saying what: counted, but no end to a wait.
    if (answer === 'notice') this.#notices++
    else {
      if (this.#pending.get(answer.id) !== session) return
      this.#pending.delete(answer.id)
      this.#progress(session)
      if (answer.ok) this.#answered++
      else this.#refused++
    }
    if (this.#pending.size <= this.#notices) this.#settled?.()
  }

  // An answer: the session's wait so far is a pause.
  #progress(session: Session): void {
    if (session.owed === 0) return
    const now = performance.now()
    this.#endWait(session, now)
    session.owed--
    session.waitingSince = now
  }

  #endWait(session: Session, now: number): void {
    if (session.owed > 0) {
      this.#longestPause = Math.max(this.#longestPause, now - session.waitingSince)
    }
  }
}

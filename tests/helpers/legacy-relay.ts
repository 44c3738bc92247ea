import type { RelayBackend } from '../../shared/worker/relay-backend.js'

type Json = Record<string, unknown>

/** Options of {@link LegacyRelay}. */
export interface LegacyRelayOptions {
  /** 64-hex key (and optional `<npub>:<name>` alias) the relay answers to. */
  relayKeys: string[]
  /**
   * Holds a posted message this long (ms) before the relay handles it, as a busy worker's async
   * handler would: pipelined messages then finish out of order. Default: handled at once.
   */
  delayMs?: (message: unknown[]) => number
  /** Keep every output line per connectionKey in {@link LegacyRelay.output} (tests). */
  recordOutput?: boolean
  /**
   * Answer a REQ's POST with an empty body and queue its lines (stored events, EOSE) for the
   * next `GET /get/relay`, this many ms after the POST was answered (0: at once), as a worker
   * whose handlers send everything through the connection's queue does; `Infinity`: never (a
   * worker that sends no EOSE). Default: the lines are the POST's answer.
   */
  reqOutputByPollMs?: number
}

/** What the worker saw, for tests of the gateway's ordering promises. */
export interface LegacyRelayStats {
  posts: number
  polls: number
  /** Most messages of one connectionKey handled at the same time. */
  maxInFlightPerKey: number
  /** Broken promises: a second message on a subscription id, or a REQ behind an EVENT. */
  violations: string[]
}

const JSON_HEADERS = { 'content-type': 'application/json' }
const bytes = (text: string): number[] => [...Buffer.from(text, 'utf8')]

/**
 * The relay routes of a legacy worker (docs/protocol.md section 3), written the way the field's
 * workers do it: the posted body is a byte array holding `{message, connectionKey}` with the
 * message parsed; the answer is newline-delimited relay messages; later output is queued per
 * connectionKey as parsed messages and handed out by `GET /get/relay` as one JSON array. No
 * extensions. Plug {@link respond} into a {@link LegacyPeer}.
 */
export class LegacyRelay {
  readonly stats: LegacyRelayStats = { posts: 0, polls: 0, maxInFlightPerKey: 0, violations: [] }
  readonly #backend: RelayBackend
  readonly #opts: LegacyRelayOptions
  readonly #queues = new Map<string, unknown[]>()
  /** Per connectionKey: what is being handled now (subscription ids, 'EVENT' count). */
  readonly #busy = new Map<string, { subs: Set<string>; events: number; count: number }>()
  readonly #unsubscribe: () => void
  /** Output lines per connectionKey in the order the relay produced them (`recordOutput`). */
  readonly output = new Map<string, string[]>()

  constructor(backend: RelayBackend, opts: LegacyRelayOptions) {
    this.#backend = backend
    this.#opts = opts
    this.#unsubscribe = backend.onOutput((key, line) => this.#queued(key, line))
  }

  #queued(key: string, line: string): void {
    let queue = this.#queues.get(key)
    if (queue === undefined) this.#queues.set(key, (queue = []))
    queue.push(JSON.parse(line))
    if (this.#opts.recordOutput === true) {
      const seen = this.output.get(key)
      if (seen === undefined) this.output.set(key, [line])
      else seen.push(line)
    }
  }

  /** The LegacyPeer `respond` function. */
  readonly respond = (req: Json): Json | Promise<Json> => {
    const path = typeof req.path === 'string' ? req.path : ''
    const parts = path.split('/').filter(Boolean)
    const known = (id: string | undefined) =>
      id !== undefined && this.#opts.relayKeys.includes(decodeURIComponent(id))
    if (req.method === 'POST' && parts[0] === 'post' && parts[1] === 'relay' && known(parts[2])) {
      return this.#post(req)
    }
    if (req.method === 'GET' && parts[0] === 'get' && parts[1] === 'relay' && known(parts[2])) {
      return this.#poll(parts[3] ?? '')
    }
    return { statusCode: 404, headers: JSON_HEADERS, body: bytes('{"error":"not found"}') }
  }

  close(): void {
    this.#unsubscribe()
  }

  #post(req: Json): Json | Promise<Json> {
    this.stats.posts++
    let parsed: { message?: unknown; connectionKey?: unknown }
    try {
      parsed = JSON.parse(Buffer.from(req.body as number[]).toString('utf8')) as typeof parsed
    } catch {
      return this.#lines(['["NOTICE","error: request body is not JSON"]'])
    }
    const { message, connectionKey: key } = parsed
    if (typeof key !== 'string' || !Array.isArray(message)) {
      return this.#lines(['["NOTICE","error: bad request"]'])
    }
    const byPoll = this.#opts.reqOutputByPollMs
    if (byPoll !== undefined && message[0] === 'REQ') return this.#queueLater(key, message, byPoll)
    const delay = this.#opts.delayMs?.(message) ?? 0
    if (delay <= 0 && this.#opts.delayMs === undefined) {
      return this.#lines(this.#backend.handleMessage(key, message) as string[])
    }
    const done = this.#enter(key, message)
    return new Promise((resolve) => {
      setTimeout(() => {
        done()
        resolve(this.#lines(this.#backend.handleMessage(key, message) as string[]))
      }, delay)
    })
  }

  #queueLater(key: string, message: unknown[], delayMs: number): Json {
    // The subscription opens now; only its lines reach the queue later.
    const lines = this.#backend.handleMessage(key, message) as string[]
    const queue = () => {
      for (const line of lines) this.#queued(key, line)
    }
    if (delayMs <= 0) queue()
    else if (Number.isFinite(delayMs)) setTimeout(queue, delayMs)
    return this.#lines([])
  }

  // Records what the gateway promised not to do (docs/protocol.md, ordering).
  #enter(key: string, message: unknown[]): () => void {
    let busy = this.#busy.get(key)
    if (busy === undefined) this.#busy.set(key, (busy = { subs: new Set(), events: 0, count: 0 }))
    const [verb, subId] = message
    const sub = (verb === 'REQ' || verb === 'CLOSE') && typeof subId === 'string' ? subId : null
    if (sub !== null && busy.subs.has(sub)) {
      this.stats.violations.push(`two messages in flight on subscription ${sub}`)
    }
    if (verb === 'REQ' && busy.events > 0) {
      this.stats.violations.push(`REQ ${String(subId)} sent while an EVENT was in flight`)
    }
    if (sub !== null) busy.subs.add(sub)
    if (verb === 'EVENT') busy.events++
    busy.count++
    this.stats.maxInFlightPerKey = Math.max(this.stats.maxInFlightPerKey, busy.count)
    const b = busy
    return () => {
      if (sub !== null) b.subs.delete(sub)
      if (verb === 'EVENT') b.events--
      b.count--
    }
  }

  #poll(key: string): Json {
    this.stats.polls++
    const queue = this.#queues.get(key) ?? []
    this.#queues.delete(key)
    return { statusCode: 200, headers: JSON_HEADERS, body: bytes(JSON.stringify(queue)) }
  }

  #lines(lines: string[]): Json {
    return { statusCode: 200, headers: JSON_HEADERS, body: bytes(lines.join('\n')) }
  }
}

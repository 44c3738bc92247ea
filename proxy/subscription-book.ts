import { lineEventId, lineSubscription, lineVerb } from './nostr-line.js'

interface Subscription {
  /** The client's REQ text, replayed verbatim on another worker. */
  req: string
  eose: boolean
  /** Recently delivered event ids, to drop repeats after a replay. */
  seen: Set<string>
}

const SEEN_PER_SUBSCRIPTION = 256
const CLOSED_REMEMBERED = 256

/**
 * A session's open subscriptions, as the client opened them: what to replay
 * on another worker, and which relay lines a replay repeats (events already
 * delivered, a second EOSE) so the client never sees them twice.
 */
export class SubscriptionBook {
  readonly #subs = new Map<string, Subscription>()
  /** Ids open or about to open: what the per-session bound counts. */
  readonly #claims = new Set<string>()
  /** Ids closed here lately (oldest first), whose late events are dropped. */
  readonly #closed = new Set<string>()
  readonly #max: number

  constructor(maxSubscriptions = Infinity) {
    this.#max = maxSubscriptions
  }

  get size(): number {
    return this.#subs.size
  }

  /**
   * Reserves a subscription id when its REQ arrives (before it is forwarded);
   * false when the session already holds the maximum number of others.
   */
  claim(subId: string): boolean {
    if (this.#claims.has(subId)) return true
    if (this.#claims.size >= this.#max) return false
    this.#claims.add(subId)
    return true
  }

  /** Frees a claim when the client's CLOSE arrives. */
  unclaim(subId: string): void {
    this.#claims.delete(subId)
  }

  /** True while subscription `subId` (or, without one, any) is open and has had no EOSE yet. */
  awaitingEose(subId?: string): boolean {
    if (subId !== undefined) return this.#subs.get(subId)?.eose === false
    for (const sub of this.#subs.values()) if (!sub.eose) return true
    return false
  }

  ids(): string[] {
    return [...this.#subs.keys()]
  }

  /** REQ texts to send again on a new worker. */
  replays(): string[] {
    return [...this.#subs.values()].map((s) => s.req)
  }

  /** Notes a client message about to be forwarded (REQ opens, CLOSE closes). */
  track(message: unknown[], text: string): void {
    const [verb, subId] = message
    if (typeof subId !== 'string') return
    if (verb === 'REQ') {
      this.#subs.set(subId, { req: text, eose: false, seen: new Set() })
      this.#claims.add(subId)
      this.#closed.delete(subId)
    } else if (verb === 'CLOSE' && this.#subs.delete(subId)) this.#remember(subId)
  }

  #remember(subId: string): void {
    this.#closed.add(subId)
    if (this.#closed.size > CLOSED_REMEMBERED) {
      this.#closed.delete(this.#closed.values().next().value as string)
    }
  }

  /** False when a relay line repeats what this client already has. */
  admit(line: string): boolean {
    const verb = lineVerb(line)
    if (verb !== 'EVENT' && verb !== 'EOSE' && verb !== 'CLOSED') return true
    const subId = lineSubscription(line, verb)
    const sub = subId === null ? undefined : this.#subs.get(subId)
    // An event for a subscription closed here: a legacy worker queued it before the CLOSE,
    // and the poll brought it after the client's CLOSE (or the relay's CLOSED).
    if (sub === undefined) return verb !== 'EVENT' || !this.#closed.has(subId as string)
    if (verb === 'CLOSED') {
      this.#subs.delete(subId as string)
      this.#claims.delete(subId as string)
      this.#remember(subId as string)
      return true
    }
    if (verb === 'EOSE') {
      if (sub.eose) return false
      sub.eose = true
      return true
    }
    const id = lineEventId(line)
    if (id === null) return true
    if (sub.seen.has(id)) return false
    sub.seen.add(id)
    if (sub.seen.size > SEEN_PER_SUBSCRIPTION) {
      sub.seen.delete(sub.seen.values().next().value as string)
    }
    return true
  }

  clear(): void {
    this.#subs.clear()
    this.#claims.clear()
    this.#closed.clear()
  }
}

import { lineEventId, lineSubscription, lineVerb } from './nostr-line.js'

interface Subscription {
  /** The client's REQ text, replayed verbatim on another worker. */
  req: string
  eose: boolean
  /** Recently delivered event ids, to drop repeats after a replay. */
  seen: Set<string>
}

const SEEN_PER_SUBSCRIPTION = 256

/**
 * A session's open subscriptions, as the client opened them: what to replay
 * on another worker, and which relay lines a replay repeats (events already
 * delivered, a second EOSE) so the client never sees them twice.
 */
export class SubscriptionBook {
  readonly #subs = new Map<string, Subscription>()
  /** Ids open or about to open: what the per-session bound counts. */
  readonly #claims = new Set<string>()
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
    } else if (verb === 'CLOSE') this.#subs.delete(subId)
  }

  /** False when a relay line repeats what this client already has. */
  admit(line: string): boolean {
    const verb = lineVerb(line)
    if (verb !== 'EVENT' && verb !== 'EOSE' && verb !== 'CLOSED') return true
    const subId = lineSubscription(line, verb)
    const sub = subId === null ? undefined : this.#subs.get(subId)
    if (sub === undefined) return true
    if (verb === 'CLOSED') {
      this.#subs.delete(subId as string)
      this.#claims.delete(subId as string)
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
  }
}

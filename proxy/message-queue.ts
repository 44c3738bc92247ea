import type { SubscriptionBook } from './subscription-book.js'

/** One client message admitted for forwarding. */
export interface QueuedMessage {
  text: string
  message: unknown[]
  /** Subscription bookkeeping done (once, even if a failover retries it). */
  tracked: boolean
}

/**
 * A session's client messages in arrival order, waiting or in flight (the
 * head of the queue is what the worker is answering). Bounded by its owner.
 */
export class MessageQueue {
  readonly #items: QueuedMessage[] = []

  get length(): number {
    return this.#items.length
  }

  push(q: QueuedMessage): void {
    this.#items.push(q)
  }

  /** Drops the head (answered). */
  shift(): QueuedMessage | undefined {
    return this.#items.shift()
  }

  /** Removes and returns everything, for refusing it. */
  takeAll(): QueuedMessage[] {
    return this.#items.splice(0)
  }

  // Tracked when batched, not when admitted, and a batch never touches one
  // subscription twice: a REQ reusing an id must not reset that subscription
  // while the previous answer is still coming.
  /** The next messages to send at once: at most `depth`, one per subscription id. */
  takeBatch(depth: number, book: SubscriptionBook): QueuedMessage[] {
    const batch: QueuedMessage[] = []
    let touched: Set<string> | null = null
    for (const q of this.#items) {
      if (batch.length >= depth) break
      const [verb, subId] = q.message
      if ((verb === 'REQ' || verb === 'CLOSE') && typeof subId === 'string') {
        touched ??= new Set()
        if (touched.has(subId)) break
        touched.add(subId)
      }
      if (!q.tracked) {
        book.track(q.message, q.text)
        q.tracked = true
      }
      batch.push(q)
    }
    return batch
  }
}

import { batchLength } from './batch-plan.js'
import type { PipelinePolicy } from './batch-plan.js'
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
  // while the previous answer is still coming (batch-plan.ts has the rules).
  /** The next messages to send at once under `policy`. */
  takeBatch(policy: PipelinePolicy, book: SubscriptionBook): QueuedMessage[] {
    const batch = this.#items.slice(0, batchLength(this.#items, policy))
    for (const q of batch) {
      if (!q.tracked) {
        book.track(q.message, q.text)
        q.tracked = true
      }
    }
    return batch
  }
}

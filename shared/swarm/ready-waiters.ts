import type { PeerState } from './select-peer.js'

interface Waiter {
  readonly keys: readonly string[]
  readonly pick: () => string | null
  readonly done: (key: string | null) => void
}

/**
 * Callers waiting for one of their workers to become ready (cold starts, failovers): the
 * pool feeds every state change in once, so a thousand waiting sessions cost no listener
 * each, only an entry per key they wait on.
 */
export class ReadyWaiters {
  readonly #byKey = new Map<string, Set<Waiter>>()
  readonly #all = new Set<Waiter>()

  /** Waiters not answered yet. */
  get size(): number {
    return this.#all.size
  }

  /**
   * Resolves with `pick()`'s key the first time it returns one after a key of `keys` became
   * ready, or with null after `timeoutMs` (or {@link clear}).
   */
  wait(
    keys: readonly string[],
    timeoutMs: number,
    pick: () => string | null,
  ): Promise<string | null> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        keys,
        pick,
        done: (key) => {
          clearTimeout(timer)
          this.#remove(waiter)
          resolve(key)
        },
      }
      const timer = setTimeout(() => waiter.done(null), timeoutMs)
      this.#all.add(waiter)
      for (const key of keys) {
        let set = this.#byKey.get(key)
        if (set === undefined) {
          set = new Set()
          this.#byKey.set(key, set)
        }
        set.add(waiter)
      }
    })
  }

  /** A pooled peer changed state: a ready one may answer those waiting on its key. */
  onState(key: string, state: PeerState): void {
    if (state !== 'ready') return
    const waiting = this.#byKey.get(key)
    if (waiting === undefined) return
    for (const waiter of [...waiting]) {
      const pick = waiter.pick()
      if (pick !== null) waiter.done(pick)
    }
  }

  /** Answers every waiter with null (the pool is closing). */
  clear(): void {
    for (const waiter of [...this.#all]) waiter.done(null)
  }

  #remove(waiter: Waiter): void {
    if (!this.#all.delete(waiter)) return
    for (const key of waiter.keys) {
      const set = this.#byKey.get(key)
      set?.delete(waiter)
      if (set?.size === 0) this.#byKey.delete(key)
    }
  }
}

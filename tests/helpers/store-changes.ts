import type { GatewayStore, StoreChange } from '../../shared/store/gateway-store.js'
import { waitUntil } from './wait-until.js'

/** Every change a store's feed delivers from now on, in order. */
export interface ChangeLog {
  readonly changes: StoreChange[]
  /** Resolves once at least `count` changes have arrived; rejects after `timeoutMs`. */
  waitForCount(count: number, timeoutMs?: number): Promise<StoreChange[]>
  stop(): void
}

export function recordChanges(store: GatewayStore): ChangeLog {
  const changes: StoreChange[] = []
  const stop = store.subscribe((change) => changes.push(change))
  return {
    changes,
    async waitForCount(count, timeoutMs = 5_000) {
      try {
        await waitUntil(() => changes.length >= count, { timeoutMs, intervalMs: 5 })
      } catch {
        throw new Error(`expected ${count} store changes, got ${JSON.stringify(changes)}`)
      }
      return changes
    },
    stop,
  }
}

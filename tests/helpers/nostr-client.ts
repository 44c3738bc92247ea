import { Relay, useWebSocketImplementation } from 'nostr-tools/relay'
import type { Filter } from 'nostr-tools/filter'
import type { NostrEvent } from 'nostr-tools/core'
import { WebSocket } from 'ws'

// Node 20 has no global WebSocket; nostr-tools takes the implementation to use.
useWebSocketImplementation(WebSocket)

export { Relay }

/** A subscription that collects events and resolves on EOSE. */
export interface Collector {
  events: NostrEvent[]
  eose: Promise<void>
  /** Resolves with the first event (after the call) that satisfies `pred`. */
  next(pred?: (e: NostrEvent) => boolean): Promise<NostrEvent>
  /** Resolves when the relay confirms the CLOSE (CLOSED). */
  closed: Promise<string>
  close(): void
}

export function collect(relay: Relay, filters: Filter[]): Collector {
  const events: NostrEvent[] = []
  const waiters: Array<{ pred: (e: NostrEvent) => boolean; resolve: (e: NostrEvent) => void }> = []
  let eose!: () => void
  let closed!: (reason: string) => void
  const eosePromise = new Promise<void>((r) => (eose = r))
  const closedPromise = new Promise<string>((r) => (closed = r))
  const sub = relay.subscribe(filters, {
    onevent(e) {
      events.push(e)
      for (const w of [...waiters]) {
        if (!w.pred(e)) continue
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(e)
      }
    },
    oneose: () => eose(),
    onclose: (reason) => closed(reason),
  })
  return {
    events,
    eose: eosePromise,
    closed: closedPromise,
    next(pred = () => true) {
      return new Promise((resolve) => waiters.push({ pred, resolve }))
    },
    close: () => sub.close(),
  }
}

// A Nostr relay no one here wrote: @nostr-relay/core (its NIP-01 handling: validation,
// subscriptions, broadcast) behind a `ws` server on 127.0.0.1, in its own process. Only the
// storage glue (an in-memory EventRepository) is ours: the package ships none that runs
// without native modules. Prints `port <n>` on stdout once listening; SIGTERM stops it.
import { NostrRelay } from '@nostr-relay/core'
import { EventRepository } from '@nostr-relay/common'
import type { Event, EventRepositoryUpsertResult, Filter } from '@nostr-relay/common'
import { matchFilter } from 'nostr-tools/filter'
import type { Filter as NostrFilter } from 'nostr-tools/filter'
import { WebSocketServer } from 'ws'

class MemoryEventRepository extends EventRepository {
  readonly #events: Event[] = []

  isSearchSupported(): boolean {
    return false
  }

  upsert(event: Event): EventRepositoryUpsertResult {
    if (this.#events.some((e) => e.id === event.id)) return { isDuplicate: true }
    this.#events.push(event)
    return { isDuplicate: false }
  }

  find(filter: Filter): Event[] {
    const matching = this.#events
      .filter((e) => matchFilter(filter as NostrFilter, e as never))
      .sort((a, b) => b.created_at - a.created_at)
    return filter.limit === undefined ? matching : matching.slice(0, filter.limit)
  }

  async destroy(): Promise<void> {}
}

const relay = new NostrRelay(new MemoryEventRepository())
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
wss.on('connection', (ws) => {
  ws.on('error', () => undefined)
  relay.handleConnection(ws)
  ws.on('message', (data) => {
    let message: unknown
    try {
      message = JSON.parse(data.toString())
    } catch {
      return
    }
    void relay.handleMessage(ws, message as never)
  })
  ws.on('close', () => relay.handleDisconnect(ws))
})
wss.on('listening', () => {
  const address = wss.address()
  if (typeof address === 'object' && address !== null)
    process.stdout.write(`port ${address.port}\n`)
})
process.once('SIGTERM', () => {
  wss.close()
  void relay.destroy().then(() => process.exit(0))
})

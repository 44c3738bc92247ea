import type { NostrEvent } from 'nostr-tools/core'
import { matchFilter } from './nostr-filter.js'
import type { Filter } from './nostr-filter.js'

/** A stored event with its JSON, serialized once on arrival and reused for every reply. */
export interface StoredEvent {
  readonly event: NostrEvent
  readonly json: string
}

/**
 * Outcome of {@link EventStore.add}: `superseded` means a replaceable event lost to a newer
 * (or equally new, lower-id) version already stored, so it was not stored.
 */
export type AddResult = 'stored' | 'duplicate' | 'superseded'

interface Entry extends StoredEvent {
  readonly replaceKey: string | undefined
}

/**
 * A bounded in-memory NIP-01 event store with replaceable-event semantics (kinds 0, 3,
 * 10000-19999 per pubkey+kind; 30000-39999 per pubkey+kind+`d` tag). Past `maxEvents` the
 * oldest event by `created_at` is evicted. It stores whatever it is given: verification and
 * the ephemeral-kind decision belong to the caller.
 */
export class EventStore {
  private readonly byId = new Map<string, Entry>()
  private readonly byAuthor = new Map<string, Set<Entry>>()
  private readonly byKind = new Map<number, Set<Entry>>()
  private readonly byReplaceKey = new Map<string, Entry>()
  // Newest first, so unindexed queries stop after `limit` matches and eviction pops the tail.
  private readonly ordered: Entry[] = []

  constructor(private readonly maxEvents: number) {}

  /** Stores `event`, whose serialized form is `json`. */
  add(event: NostrEvent, json: string): AddResult {
    if (this.byId.has(event.id)) return 'duplicate'
    const replaceKey = replaceableKey(event)
    if (replaceKey !== undefined) {
      const current = this.byReplaceKey.get(replaceKey)
      if (current !== undefined) {
        if (compareNewestFirst(current.event, event) < 0) return 'superseded'
        this.remove(current)
      }
    }
    const entry: Entry = { event, json, replaceKey }
    this.byId.set(event.id, entry)
    addToIndex(this.byAuthor, event.pubkey, entry)
    addToIndex(this.byKind, event.kind, entry)
    if (replaceKey !== undefined) this.byReplaceKey.set(replaceKey, entry)
    this.ordered.splice(this.position(event), 0, entry)
    while (this.ordered.length > this.maxEvents) {
      const oldest = this.ordered[this.ordered.length - 1]
      if (oldest === undefined) break
      this.remove(oldest)
    }
    return 'stored'
  }

  /**
   * Stored events matching any of `filters`, newest first and without repeats. Each filter
   * contributes at most its own `limit` (NIP-01 applies limits per filter), capped by `maxLimit`,
   * which also stands in for a missing `limit`.
   */
  query(filters: readonly Filter[], maxLimit: number): StoredEvent[] {
    const limitOf = (filter: Filter): number => Math.min(filter.limit ?? maxLimit, maxLimit)
    const [first] = filters
    if (filters.length === 1 && first !== undefined) return this.queryOne(first, limitOf(first))
    const union = new Map<string, Entry>()
    for (const filter of filters) {
      for (const entry of this.queryOne(filter, limitOf(filter))) union.set(entry.event.id, entry)
    }
    return [...union.values()].sort((a, b) => compareNewestFirst(a.event, b.event))
  }

  /** Drops every event. */
  clear(): void {
    this.byId.clear()
    this.byAuthor.clear()
    this.byKind.clear()
    this.byReplaceKey.clear()
    this.ordered.length = 0
  }

  private queryOne(filter: Filter, limit: number): Entry[] {
    const found: Entry[] = []
    if (limit === 0) return found
    const candidates = this.candidates(filter)
    if (candidates === undefined) {
      for (const entry of this.ordered) {
        if (filter.since !== undefined && entry.event.created_at < filter.since) break
        if (matchFilter(filter, entry.event) && found.push(entry) >= limit) break
      }
      return found
    }
    for (const entry of candidates) if (matchFilter(filter, entry.event)) found.push(entry)
    found.sort((a, b) => compareNewestFirst(a.event, b.event))
    if (found.length > limit) found.length = limit
    return found
  }

  // The narrowest index the filter allows, or undefined when only a full scan will do.
  private candidates(filter: Filter): Entry[] | undefined {
    if (filter.ids !== undefined) {
      const hits: Entry[] = []
      for (const id of filter.ids) {
        const entry = this.byId.get(id)
        if (entry !== undefined) hits.push(entry)
      }
      return hits
    }
    let best: Set<Entry>[] | undefined
    for (const sets of [lookup(this.byAuthor, filter.authors), lookup(this.byKind, filter.kinds)]) {
      if (sets !== undefined && (best === undefined || totalSize(sets) < totalSize(best))) {
        best = sets
      }
    }
    // Each event sits in exactly one author set and one kind set, so the union has no repeats.
    return best?.flatMap((set) => [...set])
  }

  private remove(entry: Entry): void {
    const { event } = entry
    this.byId.delete(event.id)
    removeFromIndex(this.byAuthor, event.pubkey, entry)
    removeFromIndex(this.byKind, event.kind, entry)
    if (entry.replaceKey !== undefined && this.byReplaceKey.get(entry.replaceKey) === entry) {
      this.byReplaceKey.delete(entry.replaceKey)
    }
    const index = this.position(event)
    if (this.ordered[index] === entry) this.ordered.splice(index, 1)
  }

  // First index whose entry does not sort before `event` (binary search over `ordered`).
  private position(event: NostrEvent): number {
    let low = 0
    let high = this.ordered.length
    while (low < high) {
      const mid = (low + high) >>> 1
      const entry = this.ordered[mid]
      if (entry !== undefined && compareNewestFirst(entry.event, event) < 0) low = mid + 1
      else high = mid
    }
    return low
  }
}

/**
 * NIP-01 order: newer `created_at` first; on a tie the lower id first (which is also the
 * version a replaceable tie keeps).
 */
export function compareNewestFirst(a: NostrEvent, b: NostrEvent): number {
  const byTime = b.created_at - a.created_at
  if (byTime !== 0) return byTime
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

function replaceableKey(event: NostrEvent): string | undefined {
  const { kind, pubkey } = event
  if (kind === 0 || kind === 3 || (kind >= 10000 && kind < 20000)) return `${kind}:${pubkey}`
  if (kind >= 30000 && kind < 40000) {
    const dTag = event.tags.find((tag) => tag[0] === 'd')
    return `${kind}:${pubkey}:${dTag?.[1] ?? ''}`
  }
  return undefined
}

function lookup<K>(index: Map<K, Set<Entry>>, keys: ReadonlySet<K> | undefined) {
  if (keys === undefined) return undefined
  const sets: Set<Entry>[] = []
  for (const key of keys) {
    const set = index.get(key)
    if (set !== undefined) sets.push(set)
  }
  return sets
}

function totalSize(sets: Set<Entry>[]): number {
  let size = 0
  for (const set of sets) size += set.size
  return size
}

function addToIndex<K>(index: Map<K, Set<Entry>>, key: K, entry: Entry): void {
  const set = index.get(key)
  if (set === undefined) index.set(key, new Set([entry]))
  else set.add(entry)
}

function removeFromIndex<K>(index: Map<K, Set<Entry>>, key: K, entry: Entry): void {
  const set = index.get(key)
  if (set === undefined) return
  set.delete(entry)
  if (set.size === 0) index.delete(key)
}

import type { Registration } from '../shared/store/gateway-store.js'
import type { PeerPool } from '../shared/swarm/peer-pool.js'
import type { RegistrationCache } from './registration-cache.js'

/** Options of {@link OwnerPeers}. */
export interface OwnerPeersOptions {
  cache: Pick<RegistrationCache, 'on' | 'off'>
  pool: Pick<PeerPool, 'allow' | 'disallow'>
}

/**
 * Keeps the pool's inbound allow-list equal to the worker keys live registrations list. A
 * registration of an owned relay can only be written by its owner, so these are the keys each
 * relay's owner listed: a kit worker that dials in is accepted as soon as its relay is
 * registered (before any session used it), and refused again once no relay lists it (its
 * relay deleted or released, its account disabled).
 */
export class OwnerPeers {
  readonly #o: OwnerPeersOptions
  readonly #byRelay = new Map<string, readonly string[]>()
  /** How many relays list each key. */
  readonly #listed = new Map<string, number>()
  readonly #onRegistered = (r: Registration): void => this.#set(r.relayKey, r.peers)
  readonly #onRemoved = (relayKey: string): void => this.#set(relayKey, [])
  readonly #onResync = (): void => this.#forgetAll()
  #started = false

  constructor(opts: OwnerPeersOptions) {
    this.#o = opts
  }

  /** Follows the cache; call before the cache starts so its first announcements are heard. */
  start(): void {
    if (this.#started) return
    this.#started = true
    const { cache } = this.#o
    cache.on('registered', this.#onRegistered)
    cache.on('removed', this.#onRemoved)
    cache.on('resync', this.#onResync)
  }

  /** Stops following the cache; idempotent. The pool's list is left as it is. */
  close(): void {
    if (!this.#started) return
    this.#started = false
    const { cache } = this.#o
    cache.off('resync', this.#onResync)
    cache.off('removed', this.#onRemoved)
    cache.off('registered', this.#onRegistered)
  }

  #set(relayKey: string, peers: readonly string[]): void {
    const before = this.#byRelay.get(relayKey) ?? []
    if (peers.length === 0) this.#byRelay.delete(relayKey)
    else this.#byRelay.set(relayKey, [...peers])
    const added = peers.filter((k) => !before.includes(k))
    const dropped = before.filter((k) => !peers.includes(k))
    for (const key of added) this.#listed.set(key, (this.#listed.get(key) ?? 0) + 1)
    const unlisted: string[] = []
    for (const key of dropped) {
      const count = (this.#listed.get(key) ?? 1) - 1
      if (count > 0) this.#listed.set(key, count)
      else {
        this.#listed.delete(key)
        unlisted.push(key)
      }
    }
    if (added.length > 0) this.#o.pool.allow(added)
    if (unlisted.length > 0) this.#o.pool.disallow(unlisted)
  }

  // After a feed gap the cache announces every live registration again; removals in the gap
  // were never heard, so start from nothing (a dial-in meanwhile is refused and redials).
  #forgetAll(): void {
    const keys = [...this.#listed.keys()]
    this.#byRelay.clear()
    this.#listed.clear()
    if (keys.length > 0) this.#o.pool.disallow(keys)
  }
}

import { ErrorCode, GatewayError } from '../errors.js'
import type { Registration, RelayOwner, WorkerRecord } from './gateway-store.js'
import { relayOwned, workerDisabled } from './gateway-store.js'
import { normalizeWorkerRecord } from './store-values.js'

/** What {@link MemoryOwnership.disableWorker} changed. */
export interface DisabledAccount {
  worker: WorkerRecord
  /** False when the account was already disabled (nothing changed). */
  wasActive: boolean
  /** Every relay the account owns. */
  relayKeys: string[]
}

/**
 * MemoryStore's worker accounts and relay ownership (no expiry). Synchronous, so a check and
 * the write after it are one step, as the Redis scripts are.
 */
export class MemoryOwnership {
  readonly #workers = new Map<string, WorkerRecord>()
  readonly #owners = new Map<string, RelayOwner>()
  // path -> relay key; believed only while that relay's owner record still names the path.
  readonly #aliases = new Map<string, string>()
  readonly #relaysOf = new Map<string, Set<string>>()

  /**
   * Refuses a registration of `relayKey` (claiming `path`) by `workerId` (null: the shared
   * secret) that would take what another registrant holds. `live` is its live registration.
   */
  assertMayRegister(
    relayKey: string,
    path: string | null,
    workerId: string | null,
    live: Registration | null,
  ): void {
    if (workerId !== null) {
      const account = this.#workers.get(workerId)
      if (account === undefined || account.disabledAt !== null) throw workerDisabled(workerId)
    }
    const owner = this.#owners.get(relayKey)
    if (owner !== undefined && owner.workerId !== workerId) throw relayOwned(relayKey)
    // A relay live under the shared secret belongs to its first registrant while it lives.
    if (owner === undefined && workerId !== null && live !== null) throw relayOwned(relayKey)
    const holder = path === null ? null : this.#aliasOwner(path)
    if (holder !== null && holder.relayKey !== relayKey && holder.workerId !== workerId) {
      throw relayOwned(relayKey)
    }
  }

  /** Refuses a removal of `relayKey` by a signer (null: the shared secret) who is not its owner. */
  assertMayRemove(relayKey: string, signer: string | null, live: Registration | null): void {
    const owner = this.#owners.get(relayKey)
    if (owner !== undefined && owner.workerId !== signer) throw relayOwned(relayKey)
    if (owner === undefined && signer !== null && live !== null) throw relayOwned(relayKey)
  }

  /** Records `workerId` as the owner of `relayKey` and of `path`; keeps the first claim's time. */
  claim(relayKey: string, workerId: string, path: string | null, now: number): void {
    const previous = this.#owners.get(relayKey)
    if (previous?.gatewayPath != null && previous.gatewayPath !== path) {
      this.#dropAlias(previous.gatewayPath, relayKey)
    }
    const claimedAt = previous?.claimedAt ?? now
    this.#owners.set(relayKey, { relayKey, workerId, gatewayPath: path, claimedAt })
    if (path !== null) this.#aliases.set(path, relayKey)
    let relays = this.#relaysOf.get(workerId)
    if (relays === undefined) {
      relays = new Set()
      this.#relaysOf.set(workerId, relays)
    }
    relays.add(relayKey)
  }

  /** Drops the ownership of `relayKey`; the previous owner, or null when it had none. */
  release(relayKey: string): RelayOwner | null {
    const owner = this.#owners.get(relayKey)
    if (owner === undefined) return null
    this.#owners.delete(relayKey)
    if (owner.gatewayPath !== null) this.#dropAlias(owner.gatewayPath, relayKey)
    this.#relaysOf.get(owner.workerId)?.delete(relayKey)
    return { ...owner }
  }

  ownerOf(relayKey: string): RelayOwner | null {
    const owner = this.#owners.get(relayKey)
    return owner === undefined ? null : { ...owner }
  }

  relaysOf(workerId: string): string[] {
    return [...(this.#relaysOf.get(workerId) ?? [])]
  }

  createWorker(record: WorkerRecord): void {
    const stored = normalizeWorkerRecord(record)
    if (this.#workers.has(stored.workerId)) {
      throw new GatewayError(ErrorCode.WORKER_EXISTS, 'a worker account with this id exists', {
        details: { workerId: stored.workerId },
      })
    }
    this.#workers.set(stored.workerId, stored)
  }

  getWorker(workerId: string): WorkerRecord | null {
    const record = this.#workers.get(workerId)
    return record === undefined ? null : { ...record }
  }

  listWorkers(): WorkerRecord[] {
    return [...this.#workers.values()].map((record) => ({ ...record }))
  }

  /** Marks an account disabled and forgets its sealed secret; null for an unknown id. */
  disableWorker(workerId: string, now: number): DisabledAccount | null {
    const record = this.#workers.get(workerId)
    if (record === undefined) return null
    if (record.disabledAt !== null)
      return { worker: { ...record }, wasActive: false, relayKeys: [] }
    const disabled: WorkerRecord = { ...record, disabledAt: Math.trunc(now), sealedSecret: null }
    this.#workers.set(workerId, disabled)
    return { worker: { ...disabled }, wasActive: true, relayKeys: this.relaysOf(workerId) }
  }

  clear(): void {
    this.#workers.clear()
    this.#owners.clear()
    this.#aliases.clear()
    this.#relaysOf.clear()
  }

  #aliasOwner(path: string): RelayOwner | null {
    const relayKey = this.#aliases.get(path)
    const owner = relayKey === undefined ? undefined : this.#owners.get(relayKey)
    return owner !== undefined && owner.gatewayPath === path ? owner : null
  }

  #dropAlias(path: string, relayKey: string): void {
    if (this.#aliases.get(path) === relayKey) this.#aliases.delete(path)
  }
}

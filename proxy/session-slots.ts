/** Session limits counted per key (bounded label values). */
export type SlotLimit = 'sessions_per_token' | 'sessions_per_ip' | 'sessions_per_pubkey'

/** One count a new session must fit under: at most `max` sessions hold `key` for `limit`. */
export interface SlotClaim {
  readonly limit: SlotLimit
  readonly key: string
  readonly max: number
}

/** A held place under every claim of one session; releasing it twice counts once. */
export interface SessionSlot {
  release(): void
}

/** Either the session's slot, or the first limit it would break. */
export type SlotGrant = { ok: true; slot: SessionSlot } | { ok: false; limit: SlotLimit }

/**
 * Counts concurrent sessions under several limits at once: a session gets a slot under all
 * of its claims or under none.
 */
export interface SessionSlots {
  acquire(claims: readonly SlotClaim[]): Promise<SlotGrant>
  /** Releases what it holds in the backing store; idempotent. */
  close(): Promise<void>
}

/** {@link SessionSlots} of one process. */
export class MemorySessionSlots implements SessionSlots {
  readonly #counts = new Map<string, number>()

  /** Sessions holding `key` under `limit`, for tests and diagnostics. */
  count(limit: SlotLimit, key: string): number {
    return this.#counts.get(slotKey(limit, key)) ?? 0
  }

  acquire(claims: readonly SlotClaim[]): Promise<SlotGrant> {
    return Promise.resolve(this.acquireNow(claims))
  }

  /** {@link acquire} without the promise. */
  acquireNow(claims: readonly SlotClaim[]): SlotGrant {
    for (const c of claims) {
      if (this.count(c.limit, c.key) >= c.max) return { ok: false, limit: c.limit }
    }
    const keys = claims.map((c) => slotKey(c.limit, c.key))
    for (const key of keys) this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1)
    let held = true
    return {
      ok: true,
      slot: {
        release: () => {
          if (!held) return
          held = false
          for (const key of keys) {
            const n = (this.#counts.get(key) ?? 0) - 1
            if (n <= 0) this.#counts.delete(key)
            else this.#counts.set(key, n)
          }
        },
      },
    }
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}

function slotKey(limit: SlotLimit, key: string): string {
  return `${limit}\0${key}`
}

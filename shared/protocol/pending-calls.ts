import { ErrorCode, GatewayError } from '../errors.js'

/** What a pending call is waiting for; picks the timeout's error code. */
export type PendingKind = 'request' | 'health'

interface Pending {
  resolve: (value: never) => void
  reject: (err: Error) => void
  /** performance.now() after which the call fails. */
  deadline: number
  timeoutMs: number
  kind: PendingKind
}

/**
 * Calls awaiting an answer on one channel, keyed by message id, with their deadlines.
 *
 * One timer serves every deadline, armed for the earliest one: no timer is set or cleared per
 * message. When it fires it fails what is due and re-arms for the next.
 */
export class PendingCalls {
  readonly #pending = new Map<number, Pending>()
  #deadlineTimer: NodeJS.Timeout | null = null
  #deadlineAt = Infinity

  /** Number of calls awaiting an answer. */
  get size(): number {
    return this.#pending.size
  }

  /** Registers call `id`; the promise rejects with a timeout code after `timeoutMs`. */
  track<T>(id: number, kind: PendingKind, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const deadline = performance.now() + timeoutMs
      this.#pending.set(id, {
        resolve: resolve as (v: never) => void,
        reject,
        deadline,
        timeoutMs,
        kind,
      })
      if (deadline < this.#deadlineAt) this.#armDeadline(deadline)
    })
  }

  /** Resolves call `id` with `value`; false when no such call is pending. */
  settle(id: number, value: unknown): boolean {
    const pending = this.#pending.get(id)
    if (pending === undefined) return false
    this.#pending.delete(id)
    pending.resolve(value as never)
    return true
  }

  /** Rejects every pending call with `err` and stops the timer. */
  rejectAll(err: Error): void {
    if (this.#deadlineTimer !== null) clearTimeout(this.#deadlineTimer)
    this.#deadlineTimer = null
    const pending = [...this.#pending.values()]
    this.#pending.clear()
    for (const p of pending) p.reject(err)
  }

  #armDeadline(at: number): void {
    if (this.#deadlineTimer !== null) clearTimeout(this.#deadlineTimer)
    this.#deadlineAt = at
    // +1: a timer may fire a fraction of a millisecond early.
    this.#deadlineTimer = setTimeout(() => this.#expire(), Math.max(0, at - performance.now()) + 1)
  }

  // Fails every call past its deadline and re-arms for the earliest one left. Calls answered in
  // time cost nothing here; the timer fires about once per timeout span under steady load.
  #expire(): void {
    this.#deadlineTimer = null
    this.#deadlineAt = Infinity
    const now = performance.now()
    let next = Infinity
    for (const [id, pending] of this.#pending) {
      if (pending.deadline <= now) {
        this.#pending.delete(id)
        const kind = pending.kind
        const code = kind === 'health' ? ErrorCode.HEALTH_TIMEOUT : ErrorCode.REQUEST_TIMEOUT
        pending.reject(
          new GatewayError(code, `${kind} ${id} got no response in ${pending.timeoutMs} ms`),
        )
      } else if (pending.deadline < next) next = pending.deadline
    }
    if (next !== Infinity) this.#armDeadline(next)
  }
}

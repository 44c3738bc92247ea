/** What a trigger asks of one session's poller. */
export interface EarlyPollable {
  /** Poll as soon as the session's bound allows; repeated calls coalesce. */
  pollEarly(): void
}

/** Counters, published by the proxy's metrics at scrape time. */
export interface PollTriggerStats {
  /** EVENTs accepted (OK true) through this gateway by a worker that has watchers. */
  accepted: number
  /** Polls made early because of one (each within the per-session bound). */
  polls: number
}

/** A session's registration with the trigger; `close()` is idempotent. */
export class PollWatch {
  #close: (() => void) | null

  constructor(close: () => void) {
    this.#close = close
  }

  get closed(): boolean {
    return this.#close === null
  }

  close(): void {
    const close = this.#close
    this.#close = null
    close?.()
  }
}

/**
 * Event-triggered polling for workers without push. A legacy worker queues an event for every
 * matching subscription when it accepts it, but the gateway only learns of that queue at the
 * next poll (up to the poll interval). When an EVENT sent through this gateway is answered
 * `OK true`, the sessions with open subscriptions on that worker are asked to poll early: the
 * event reaches them in about one round trip. One wave per worker per tick, however many OKs
 * arrived in it; each session keeps its own bound ({@link EarlyPoll}). Events a worker's own
 * local clients publish (or another gateway's) still arrive at the poll interval.
 */
export class PollTrigger {
  readonly stats: PollTriggerStats = { accepted: 0, polls: 0 }
  readonly #byWorker = new Map<string, Set<EarlyPollable>>()
  readonly #due = new Set<string>()
  #scheduled = false

  /** Registers a session's poller under its worker while it has open subscriptions. */
  watch(workerKey: string, poller: EarlyPollable): PollWatch {
    let set = this.#byWorker.get(workerKey)
    if (set === undefined) this.#byWorker.set(workerKey, (set = new Set()))
    set.add(poller)
    const watched = set
    return new PollWatch(() => {
      watched.delete(poller)
      if (watched.size === 0 && this.#byWorker.get(workerKey) === watched) {
        this.#byWorker.delete(workerKey)
      }
    })
  }

  /** Sessions watching `workerKey` (diagnostics, tests). */
  watchers(workerKey: string): number {
    return this.#byWorker.get(workerKey)?.size ?? 0
  }

  /** Worker `workerKey` accepted an EVENT sent through this gateway. */
  accepted(workerKey: string): void {
    if (!this.#byWorker.has(workerKey)) return
    this.stats.accepted++
    this.#due.add(workerKey)
    if (this.#scheduled) return
    this.#scheduled = true
    // After the current I/O wave: a pipelined batch of EVENTs triggers one wave, not one each.
    setImmediate(() => this.#flush())
  }

  /** A bound for one session's early polls, counted in these stats. */
  early(minGapMs: number, poll: () => boolean): EarlyPoll {
    return new EarlyPoll(minGapMs, poll, this.stats)
  }

  #flush(): void {
    this.#scheduled = false
    const due = [...this.#due]
    this.#due.clear()
    for (const key of due) {
      for (const poller of this.#byWorker.get(key) ?? []) poller.pollEarly()
    }
  }
}

/**
 * One session's bound on early polls: at most one per `minGapMs` (so at most
 * `1000 / minGapMs` extra polls per second, on top of the interval's one) and at most one
 * waiting. `poll` starts a poll and returns true, or returns false when the session cannot poll
 * now (a poll or its own messages in flight); then {@link idle} runs the waiting one later.
 */
export class EarlyPoll {
  readonly #minGapMs: number
  readonly #poll: () => boolean
  readonly #stats: PollTriggerStats
  #last = -Infinity
  #timer: NodeJS.Timeout | null = null
  #wanted = false
  #stopped = false

  constructor(minGapMs: number, poll: () => boolean, stats: PollTriggerStats) {
    this.#minGapMs = minGapMs
    this.#poll = poll
    this.#stats = stats
  }

  /** Asks for an early poll; coalesces with one already waiting. */
  request(): void {
    if (this.#stopped || this.#timer !== null || this.#wanted) return
    const wait = this.#last + this.#minGapMs - performance.now()
    if (wait <= 0) this.#fire()
    else this.#timer = setTimeout(() => this.#fire(), wait)
  }

  /** The session became free to poll: run a request it refused earlier. */
  idle(): void {
    if (!this.#wanted) return
    this.#wanted = false
    this.request()
  }

  stop(): void {
    this.#stopped = true
    this.#wanted = false
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
  }

  #fire(): void {
    this.#timer = null
    if (this.#stopped) return
    if (!this.#poll()) {
      this.#wanted = true
      return
    }
    this.#last = performance.now()
    this.#stats.polls++
  }
}

/**
 * True when a `POST /post/relay` answer accepted an EVENT (`["OK",<id>,true,..]`). A cheap
 * scan, no parse: a false positive costs one early poll, within the bound.
 */
export function acceptsEvent(answer: string): boolean {
  return answer.startsWith('["OK",') && /^\["OK","[^"]*",true/.test(answer)
}

/**
 * One session's part in event-triggered polling: registered under its current worker while it
 * wants output from a worker without push, and bounded by an {@link EarlyPoll}. The poller calls
 * {@link follow} whenever it (re)arms and {@link idle} when it is free to poll.
 */
export class TriggeredPolls implements EarlyPollable {
  readonly #trigger: PollTrigger
  readonly #early: EarlyPoll
  #watch: PollWatch | null = null
  #watched: string | null = null

  constructor(trigger: PollTrigger, minGapMs: number, pollNow: () => boolean) {
    this.#trigger = trigger
    this.#early = trigger.early(minGapMs, pollNow)
  }

  /** Watch `workerKey` (the session wants its output), or nothing (null). */
  follow(workerKey: string | null): void {
    if (workerKey === this.#watched) return
    this.#watch?.close()
    this.#watch = workerKey === null ? null : this.#trigger.watch(workerKey, this)
    this.#watched = workerKey
  }

  pollEarly(): void {
    this.#early.request()
  }

  idle(): void {
    this.#early.idle()
  }

  stop(): void {
    this.follow(null)
    this.#early.stop()
  }
}

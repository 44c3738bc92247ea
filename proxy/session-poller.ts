import type { Logger } from 'pino'
import { bodyText } from '../shared/protocol/wire.js'
import { TriggeredPolls } from './poll-trigger.js'
import type { SessionTuning } from './session-tuning.js'
import type { WorkerLink } from './worker-link.js'

/** What the poller asks of its session. */
export interface PollTarget {
  /** The current link, or null while the session has none. */
  link(): WorkerLink | null
  /** True while polling makes sense: open subscriptions, session not closed. */
  wantsOutput(): boolean
  /** True while client messages are in flight (their answers carry output too). */
  busy(): boolean
  /** True while an open subscription still waits for its EOSE. */
  awaitingEose(): boolean
  deliver(line: string): void
  /** A poll failed on `link` with `err`. */
  failed(err: unknown, link: WorkerLink): void
}

/**
 * Early polls after a REQ whose POST answer did not end it (no EOSE): a worker that queues a
 * REQ's output for the poll would otherwise deliver it at the interval. Bounded per REQ answer,
 * and every early poll keeps the session's gap ({@link EarlyPoll}).
 */
export const EOSE_CHASE_POLLS = 3

/**
 * Legacy `GET /get/relay` polling for a session whose worker has no push:
 * one timer at a time, never overlapping a poll or the session's own calls.
 */
export class SessionPoller {
  readonly #intervalMs: number
  readonly #target: PollTarget
  readonly #logger: Logger
  #timer: NodeJS.Timeout | null = null
  #polling = false
  #stopped = false
  /** Early polls left for REQs answered without their EOSE. */
  #chase = 0
  /** Early polls after an EVENT accepted through this gateway (poll-trigger.ts). */
  readonly #triggered: TriggeredPolls | null

  constructor(
    intervalMs: number,
    target: PollTarget,
    logger: Logger,
    tuning?: SessionTuning | undefined,
  ) {
    this.#intervalMs = intervalMs
    this.#target = target
    this.#logger = logger
    const trigger = tuning?.trigger ?? null
    this.#triggered =
      trigger === null
        ? null
        : new TriggeredPolls(trigger, tuning?.triggeredPollGapMs ?? 0, () => this.#pollNow())
  }

  /** Arms the next poll unless one is armed or polling is not needed. */
  schedule(): void {
    const wanted = !this.#stopped && this.#target.wantsOutput()
    const link = wanted ? this.#target.link() : null
    if (this.#triggered !== null) {
      this.#triggered.follow(link === null || link.pushes ? null : link.key)
      this.#triggered.idle()
    }
    if (this.#stopped || this.#timer !== null || !wanted) return
    if (link === null || link.pushes) return
    this.#timer = setTimeout(() => {
      this.#timer = null
      void this.#poll()
    }, this.#intervalMs)
  }

  /**
   * A REQ was answered without its EOSE: the worker may have queued the rest for the poll, so
   * poll early, and again while a subscription still waits, {@link EOSE_CHASE_POLLS} in all.
   */
  chaseEose(): void {
    const link = this.#target.link()
    if (this.#triggered === null || link === null || link.pushes) return
    this.#chase = EOSE_CHASE_POLLS - 1
    this.#triggered.pollEarly()
  }

  stop(): void {
    this.#stopped = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    this.#triggered?.stop()
  }

  // A triggered poll, now if nothing is in flight (then the interval restarts after it).
  #pollNow(): boolean {
    const link = this.#target.link()
    if (this.#stopped || this.#polling || link === null || link.pushes) return false
    if (this.#target.busy() || !this.#target.wantsOutput()) return false
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    void this.#poll()
    return true
  }

  async #poll(): Promise<void> {
    const link = this.#target.link()
    if (this.#stopped || link === null || this.#polling || this.#target.busy()) {
      return this.schedule()
    }
    this.#polling = true
    try {
      const res = await link.poll()
      const messages: unknown =
        res.statusCode === 200 && res.body !== null ? JSON.parse(bodyText(res.body)) : []
      // Legacy polling hands back parsed arrays; each is re-serialised once here.
      if (Array.isArray(messages)) for (const m of messages) this.#target.deliver(JSON.stringify(m))
    } catch (err) {
      if (err instanceof SyntaxError) this.#logger.debug({ err }, 'poll answer is not JSON')
      else this.#target.failed(err, link)
    } finally {
      this.#polling = false
    }
    if (this.#chase > 0) {
      if (this.#target.awaitingEose()) {
        this.#chase--
        this.#triggered?.pollEarly()
      } else this.#chase = 0
    }
    this.schedule()
  }
}

import type { NoiseSecretStream } from 'hyperdht'
import { HANDOVER_FRAME, isHandoverAck } from '../protocol/handover-frames.js'
import type { RelayChannel } from '../protocol/relay-channel.js'
import { Capability } from '../protocol/wire.js'
import type { JsonObject } from '../protocol/wire.js'
import { closeStream } from './close-stream.js'

/**
 * How a handover ended: the worker acknowledged, the old link closed before it did, its
 * transport stopped acknowledging (the worker had lost it: it redialled), the grace period ran
 * out, or it was cut short (the new link failed, another replaced it, pool closed).
 */
export type HandoverOutcome = 'acked' | 'closed' | 'lost' | 'timeout' | 'aborted'

/** How long a handover may hold traffic back. */
export interface HandoverTiming {
  /** Longest wait for the worker's acknowledgement and the calls on the old link, ms. */
  graceMs: number
  /** The old link's transport must acknowledge the handover frame within this, ms. */
  probeTimeoutMs: number
}

/** What one handover reports to its slot. */
interface HandoverHost {
  deliver(frame: JsonObject): void
  ended(handover: LinkHandover, outcome: HandoverOutcome): void
}

/** What a connection hears of its handovers. */
export interface HandoverEvents {
  /** A frame the new link carried while the old one drained, delivered in arrival order. */
  deliver(frame: JsonObject): void
  /** A replaced link has closed: nothing more can come from it. */
  ended(outcome: HandoverOutcome, stream: NoiseSecretStream): void
}

/** One connection's handovers: at most one replaced link drains at a time. */
export class HandoverSlot {
  readonly #timing: HandoverTiming
  readonly #events: HandoverEvents
  #current: LinkHandover | null = null

  constructor(timing: HandoverTiming, events: HandoverEvents) {
    this.#timing = timing
    this.#events = events
  }

  /** True while a replaced link drains: new traffic to the peer waits (see LinkHandover). */
  get holding(): boolean {
    return this.#current?.holding === true
  }

  /**
   * Replaces link `previous` (channel `from`) with the one of channel `to`: drained when both
   * negotiated `handover` (true), else dropped at once, as a legacy peer's always was (false).
   * A handover still under way ends first.
   */
  replace(previous: NoiseSecretStream, from: RelayChannel | null, to: RelayChannel): boolean {
    void this.abort()
    const negotiated =
      from !== null &&
      !from.closed &&
      from.supports(Capability.HANDOVER) &&
      to.supports(Capability.HANDOVER)
    if (!negotiated) {
      previous.destroy()
      return false
    }
    const handover = new LinkHandover(previous, from, to, this.#timing, {
      deliver: (frame) => this.#events.deliver(frame),
      ended: (ended, outcome) => {
        if (this.#current === ended) this.#current = null
        this.#events.ended(outcome, ended.stream)
      },
    })
    this.#current = handover
    handover.start()
    return true
  }

  /** See LinkHandover.intercept; false when no handover is under way. */
  intercept(channel: RelayChannel, frame: JsonObject): boolean {
    return this.#current?.intercept(channel, frame) === true
  }

  /** Runs `op` once the handover settles (call only while {@link holding}). */
  defer<T>(op: () => Promise<T>): Promise<T> {
    return (this.#current as LinkHandover).defer(op)
  }

  /** Runs `op` once the handover settles, in order with deferred calls (only while holding). */
  later(op: () => void): void {
    ;(this.#current as LinkHandover).later(op)
  }

  /** A call on `channel` settled: a drained link closes once it carries none. */
  callSettled(channel: RelayChannel): void {
    if (this.#current?.channel === channel) this.#current.callSettled()
  }

  /** Ends a handover under way, dropping the old link; resolves once it has closed. */
  abort(): Promise<void> {
    return this.#current?.abort() ?? Promise.resolve()
  }
}

/**
 * The gateway's side of an ordered handover (the `handover` extension, docs/protocol.md): a
 * link being replaced is told so and kept reading, not destroyed, until the worker acknowledges
 * (the last thing it writes there) and the calls still on it are answered, or the grace period
 * ends. Meanwhile the new link serves, but what it carries from the worker is held back and
 * so is what we would send on it: per session, everything the worker wrote to the old link
 * is delivered first, and nothing reaches the worker out of the order it was sent in.
 */
export class LinkHandover {
  /** The link being replaced. */
  readonly stream: NoiseSecretStream
  /** Its relay-v2 channel, still read until the handover ends. */
  readonly channel: RelayChannel
  /** The new link's channel. */
  readonly #to: RelayChannel
  readonly #host: HandoverHost
  readonly #timing: HandoverTiming
  readonly #held: Array<() => void> = []
  readonly #frames: JsonObject[] = []
  #outcome: HandoverOutcome | null = null
  #timer: NodeJS.Timeout | null = null
  #probe: NodeJS.Timeout | null = null

  constructor(
    stream: NoiseSecretStream,
    channel: RelayChannel,
    to: RelayChannel,
    timing: HandoverTiming,
    host: HandoverHost,
  ) {
    this.stream = stream
    this.channel = channel
    this.#to = to
    this.#timing = timing
    this.#host = host
  }

  /** Tells the worker and starts the grace period. */
  start(): void {
    this.stream.once('close', () => this.#closed())
    this.#timer = setTimeout(() => this.#expire('timeout'), this.#timing.graceMs)
    this.channel.sendWsFrame(HANDOVER_FRAME)
    // A worker that redialled because it lost this link will never answer on it: when its
    // transport does not even acknowledge the frame, stop holding traffic for it (as the link
    // probe would drop it).
    this.#probe = setTimeout(() => this.#expire('lost'), this.#timing.probeTimeoutMs)
    this.stream.flush().then(
      (ok) => (ok ? this.#clearProbe() : undefined),
      () => undefined,
    )
  }

  /** True until the worker acknowledged (or the handover ended otherwise): new traffic waits. */
  get holding(): boolean {
    return this.#outcome === null
  }

  /**
   * Routes a frame the worker sent on `channel`; true when the handover took it (the
   * acknowledgement, or a frame of the new link held back). Frames of the old link are not
   * held: they are what must come first.
   */
  intercept(channel: RelayChannel, frame: JsonObject): boolean {
    if (channel === this.channel) {
      if (!isHandoverAck(frame)) return false
      this.#settle('acked')
      this.#closeIfIdle()
      return true
    }
    if (this.#outcome !== null) return false
    this.#frames.push(frame)
    return true
  }

  /** Runs `op` once the handover settles; its promise settles as op's does. */
  defer<T>(op: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#held.push(() => void op().then(resolve, reject))
    })
  }

  /** Runs `op` once the handover settles, in order with deferred calls. */
  later(op: () => void): void {
    this.#held.push(op)
  }

  /** A call on the old link settled: once acknowledged and idle, the link closes. */
  callSettled(): void {
    if (this.#outcome === 'acked') this.#closeIfIdle()
  }

  /** Ends the handover now, dropping the old link. Resolves once it has closed. */
  abort(): Promise<void> {
    this.#settle('aborted')
    return closeStream(this.stream)
  }

  #settle(outcome: HandoverOutcome): void {
    if (this.#outcome !== null) return
    this.#outcome = outcome
    for (const frame of this.#frames.splice(0)) this.#host.deliver(frame)
    const held = this.#held.splice(0)
    if (held.length === 0) return
    // What waited leaves in one batch, in the order it came.
    this.#to.cork()
    try {
      for (const op of held) op()
    } finally {
      this.#to.uncork()
    }
  }

  #closeIfIdle(): void {
    if (this.channel.pendingCount === 0) void closeStream(this.stream)
  }

  // A worker that never acknowledges (or a call that never ends) costs the grace period, then
  // the old link goes as it did without the extension.
  #expire(outcome: HandoverOutcome): void {
    this.#settle(outcome)
    this.stream.destroy()
  }

  #clearProbe(): void {
    if (this.#probe !== null) clearTimeout(this.#probe)
    this.#probe = null
  }

  #closed(): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    this.#clearProbe()
    this.#settle('closed')
    this.#host.ended(this, this.#outcome ?? 'closed')
  }
}

/** What the probe needs of a link: NoiseSecretStream has both. */
export interface ProbedStream {
  /** Writes an empty (keep-alive) frame. */
  sendKeepAlive(): void
  /** Resolves once everything written so far is acknowledged by the remote transport. */
  flush(): Promise<boolean>
}

/** Timings of {@link LinkProbe}. */
export interface LinkProbeOptions {
  /** Pause between probes, ms: one small frame per interval. */
  intervalMs: number
  /** A probe not acknowledged within this many ms means the peer is gone, ms. */
  timeoutMs: number
}

/**
 * Notices a dead (killed) or hung (stopped) peer in seconds at the cost of one
 * empty frame per interval. It rides the transport's acknowledgements: UDX
 * acknowledges every packet from the peer process's event loop, so a probe
 * frame that stays unacknowledged means that loop is gone or frozen, whatever
 * protocol the peer speaks (legacy workers need nothing new). Driven by
 * {@link tick} so one timer serves every link and tests need no clock.
 */
export class LinkProbe {
  readonly #stream: ProbedStream
  readonly #opts: LinkProbeOptions
  #sentAt = -Infinity
  #pending = false

  constructor(stream: ProbedStream, opts: LinkProbeOptions) {
    this.#stream = stream
    this.#opts = opts
  }

  /** Whether a probe is waiting for its acknowledgement. */
  get pending(): boolean {
    return this.#pending
  }

  /** Advances the probe; true when the last probe missed its deadline (the link is dead). */
  tick(now: number): boolean {
    if (this.#pending) return now - this.#sentAt >= this.#opts.timeoutMs
    if (now - this.#sentAt < this.#opts.intervalMs) return false
    this.#sentAt = now
    this.#pending = true
    const sentAt = now
    this.#stream.sendKeepAlive()
    this.#stream.flush().then(
      () => this.#acked(sentAt),
      () => this.#acked(sentAt),
    )
    return false
  }

  #acked(sentAt: number): void {
    if (sentAt === this.#sentAt) this.#pending = false
  }
}

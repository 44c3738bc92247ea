/**
 * Lets everything a Protomux channel sends in one turn of the event loop share one frame.
 *
 * Each message sent alone is its own secret-stream frame: an encrypt and a write here, a decrypt
 * and a parse at the far end, the larger part of the link's CPU per message (bench/README.md).
 * The first message of a turn still leaves at once, so a lone message keeps its plain frame;
 * from the second on the channel is corked, and the rest leave as one Protomux batch in the
 * check phase. No time is lost on the wire: UDX holds a packet that is not full until the next
 * prepare phase, which comes after the check phase. (A turn that starts in the timers phase
 * gains the poll phase in between, which does not block while an immediate is due.) Within a
 * corked turn Protomux reports no backpressure: a send returns true however full the stream.
 */
export class TurnCork {
  readonly #cork: () => void
  readonly #uncork: () => void
  #sends = 0
  readonly #endTurn = (): void => {
    if (this.#sends > 1) this.#uncork()
    this.#sends = 0
  }

  constructor(cork: () => void, uncork: () => void) {
    this.#cork = cork
    this.#uncork = uncork
  }

  /** Call before each send. */
  sending(): void {
    if (this.#sends === 0) setImmediate(this.#endTurn)
    else if (this.#sends === 1) this.#cork()
    this.#sends++
  }
}

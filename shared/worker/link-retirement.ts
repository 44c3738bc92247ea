import { HANDOVER_ACK_FRAME } from '../protocol/handover-frames.js'
import type { RelayChannel } from '../protocol/relay-channel.js'

/**
 * The worker's side of the `handover` extension (docs/protocol.md): gateway links being
 * replaced. A retired link takes no more pushes; it is acknowledged once the posts it carried
 * are answered, so what a session got there comes before what follows on the new link.
 */
export class LinkRetirement {
  readonly #retired = new WeakSet<RelayChannel>()

  /** The gateway said it replaces `channel`: no session's pushes may go there any more. */
  retired(channel: RelayChannel): boolean {
    return this.#retired.has(channel)
  }

  /**
   * Retires `channel` (the caller checked that its gateway negotiated `handover`): waits for the posts
   * of `sessions` (their `tail`), lets their answers leave, runs `move` (the sessions' pushes
   * go elsewhere), then acknowledges on `channel`.
   */
  retire(
    channel: RelayChannel,
    sessions: ReadonlyArray<{ tail: Promise<unknown> }>,
    move: () => void,
  ): void {
    if (this.#retired.has(channel)) return
    this.#retired.add(channel)
    const done = (): void => {
      if (channel.closed) return
      move()
      channel.sendWsFrame(HANDOVER_ACK_FRAME)
    }
    // A handler's answer is written in a reaction to its promise: the immediate runs after it.
    void Promise.all(sessions.map((s) => s.tail)).then(() => setImmediate(done))
  }
}

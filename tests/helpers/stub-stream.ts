import { FramedEnd } from './framed-pair.js'

/** A NoiseSecretStream stand-in: framed, in memory, acknowledgements under test control. */
export class StubStream extends FramedEnd {
  readonly remotePublicKey: Buffer
  readonly rawStream = null
  readonly opened: Promise<boolean>
  keepAlives = 0
  acks = true
  #open: (ok: boolean) => void = () => {}

  constructor(remoteKey: Buffer) {
    super()
    this.remotePublicKey = remoteKey
    this.opened = new Promise((resolve) => (this.#open = resolve))
    this.once('close', () => this.#open(false))
  }

  open(): void {
    this.#open(true)
  }

  /** Fails the dial the way HyperDHT does: an error with a code, then close. */
  fail(code: string): void {
    this.destroy(Object.assign(new Error(code), { code }))
  }

  sendKeepAlive(): void {
    this.keepAlives++
  }

  flush(): Promise<boolean> {
    return this.acks ? Promise.resolve(true) : new Promise(() => {})
  }
}

import { EventEmitter } from 'node:events'
import type { NoiseSecretStream } from 'hyperdht'
import type Hyperswarm from 'hyperswarm'
import type { Logger } from 'pino'
import { backoffDelay } from '../retry/backoff.js'
import type { BackoffOptions } from '../retry/backoff.js'

/** Where a worker dials: the gateway nodes' keys and the relays to fall back to (hex). */
export interface GatewayTargets {
  gatewayKeys: readonly string[]
  relays: readonly string[]
}

/** Options of {@link GatewayLink}. */
export interface GatewayLinkOptions {
  swarm: Hyperswarm
  logger: Logger
  /** Serves the link once open (RelayHost's `serve`). */
  onStream(stream: NoiseSecretStream): void
  /** Reconnect delays after a failed or lost link. */
  backoff?: BackoffOptions
  /** Deadline of one dial attempt before it is abandoned and retried. */
  attemptTimeoutMs?: number
}

// Codes after which a direct retry is pointless and the next attempt goes through a relay.
const RELAY_WORTHY = /^(HOLEPUNCH_|PEER_CONNECTION_FAILED|REMOTE_NOT_HOLEPUNCHABLE|ATTEMPT_TIMEOUT)/

const STABLE_LINK_MS = 10_000

interface Dialer {
  key: string
  attempt: number
  stream: NoiseSecretStream | null
  timer: NodeJS.Timeout | null
  /** Next attempt goes through a relay (the last one failed in a way punching will not fix). */
  relay: boolean
}

/**
 * A worker's outbound links to the gateway, as cloudflared or frp agents keep theirs: one
 * link per gateway key, dialled by the worker so its own NAT never has to accept anything,
 * redialled with capped jittered backoff when it drops. A dial that fails to punch a hole
 * is retried through a blind relay the gateway publishes. The gateway identifies the worker
 * by the link's Noise key, which is the key the worker registered.
 *
 * Events: `link` (gatewayKey, stream) when a link opens, `drop` (gatewayKey, code).
 */
export class GatewayLink extends EventEmitter {
  readonly #swarm: Hyperswarm
  readonly #log: Logger
  readonly #onStream: (stream: NoiseSecretStream) => void
  readonly #backoff: BackoffOptions
  readonly #attemptTimeoutMs: number
  readonly #dialers = new Map<string, Dialer>()
  #relays: readonly string[] = []
  #closed = false

  constructor(opts: GatewayLinkOptions) {
    super()
    this.#swarm = opts.swarm
    this.#log = opts.logger
    this.#onStream = opts.onStream
    this.#backoff = opts.backoff ?? { minMs: 500, maxMs: 15_000 }
    this.#attemptTimeoutMs = opts.attemptTimeoutMs ?? 10_000
  }

  /** Gateway keys with an open link. */
  get connected(): string[] {
    return [...this.#dialers.values()].filter((d) => d.stream !== null).map((d) => d.key)
  }

  /**
   * Dials every gateway key not dialled yet and stops dialling keys no longer listed; call
   * again whenever the registrar's answer names other keys.
   */
  update(targets: GatewayTargets): void {
    if (this.#closed) return
    this.#relays = targets.relays
    const wanted = new Set(targets.gatewayKeys)
    for (const [key, dialer] of this.#dialers) {
      if (!wanted.has(key)) this.#drop(dialer)
    }
    for (const key of wanted) {
      if (this.#dialers.has(key) || !/^[0-9a-f]{64}$/.test(key)) continue
      const dialer: Dialer = { key, attempt: 0, stream: null, timer: null, relay: false }
      this.#dialers.set(key, dialer)
      // The NAT type (randomizing or not) is known once the DHT has bootstrapped.
      this.#swarm.dht.fullyBootstrapped().then(
        () => this.#dial(dialer),
        () => undefined,
      )
    }
  }

  #dial(dialer: Dialer): void {
    if (this.#closed || this.#dialers.get(dialer.key) !== dialer) return
    const dht = this.#swarm.dht
    // A randomizing NAT on our side cannot be punched cheaply: relay from the start then.
    const viaRelay = this.#relays.length > 0 && (dialer.relay || dht.randomized)
    const relays = this.#relays.map((k) => Buffer.from(k, 'hex'))
    const stream = dht.connect(Buffer.from(dialer.key, 'hex'), {
      keyPair: this.#swarm.keyPair,
      ...(viaRelay ? { relayThrough: relays } : {}),
    })
    dialer.stream = stream
    let opened = false
    let openedAt = 0
    const started = Date.now()
    const deadline = setTimeout(
      () => stream.destroy(codedError('ATTEMPT_TIMEOUT')),
      this.#attemptTimeoutMs,
    )
    stream.on('error', (err: Error & { code?: string }) => {
      if (!opened) dialer.relay = RELAY_WORTHY.test(err.code ?? '')
      this.#log.debug(
        { gateway: dialer.key, code: err.code, relayed: viaRelay },
        'gateway link error',
      )
    })
    stream.once('open', () => {
      clearTimeout(deadline)
      opened = true
      openedAt = Date.now()
      dialer.relay = false
      stream.setKeepAlive(5_000)
      this.#log.info(
        { gateway: dialer.key, relayed: viaRelay, ms: Date.now() - started },
        'gateway link open',
      )
      this.emit('link', dialer.key, stream)
      this.#onStream(stream)
    })
    stream.once('close', () => {
      clearTimeout(deadline)
      if (dialer.stream === stream) dialer.stream = null
      if (this.#closed || this.#dialers.get(dialer.key) !== dialer) return
      // Only a link that lived resets the backoff: one the gateway refuses at once (not
      // registered yet) must not be redialled in a tight loop.
      if (opened && Date.now() - openedAt > STABLE_LINK_MS) dialer.attempt = 0
      this.emit('drop', dialer.key)
      const delay = backoffDelay(dialer.attempt++, this.#backoff)
      dialer.timer = setTimeout(() => {
        dialer.timer = null
        this.#dial(dialer)
      }, delay)
      dialer.timer.unref()
    })
  }

  #drop(dialer: Dialer): void {
    this.#dialers.delete(dialer.key)
    if (dialer.timer !== null) clearTimeout(dialer.timer)
    dialer.stream?.destroy()
  }

  /** Closes every link and stops redialling; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const closing = [...this.#dialers.values()].map((d) => {
      const stream = d.stream
      this.#drop(d)
      return stream === null || stream.destroyed
        ? null
        : new Promise((r) => stream.once('close', r))
    })
    await Promise.all(closing)
  }
}

function codedError(code: string): Error {
  return Object.assign(new Error(code), { code })
}

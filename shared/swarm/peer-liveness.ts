import type { NoiseSecretStream } from 'hyperdht'
import type { Logger } from 'pino'
import type { RelayChannel } from '../protocol/relay-channel.js'
import { LinkProbe } from './link-probe.js'
import type { PeerPolicy } from './peer-policy.js'
import { ewma } from './peer-stats.js'
import type { LinkLoss, MutablePeerStats } from './peer-stats.js'

/** What liveness checks need from their connection. */
export interface LivenessHost {
  readonly peer: string
  readonly logger: Logger
  /** The open channel; null once the link is gone. */
  channel(): RelayChannel | null
  /** A check finished (the connection's `health` event). */
  reported(ok: boolean, rttMs: number | null): void
  /** A check answered after earlier ones failed. */
  recovered(): void
  /** Failures in a row reached `unhealthyAfter`. */
  unhealthy(): void
  /** The link stopped answering and is to be dropped. */
  lose(reason: LinkLoss): void
}

type LivenessPolicy = Pick<
  PeerPolicy,
  'healthIntervalMs' | 'unhealthyAfter' | 'downAfter' | 'probeIntervalMs' | 'probeTimeoutMs'
>
type HealthStats = Pick<MutablePeerStats, 'healthOk' | 'healthFailed' | 'healthRttMs'>

/**
 * Whether one peer's open link is alive: the link probe (transport level) and
 * health checks (one in flight at most, the next one an interval after the
 * last answer, failures in a row counted).
 */
export class PeerLiveness {
  readonly #policy: LivenessPolicy
  readonly #stats: HealthStats
  readonly #host: LivenessHost
  #probe: LinkProbe | null = null
  #timer: NodeJS.Timeout | null = null
  #checking = false
  #failures = 0

  constructor(policy: LivenessPolicy, stats: HealthStats, host: LivenessHost) {
    this.#policy = policy
    this.#stats = stats
    this.#host = host
  }

  /** Starts watching a freshly opened link. */
  start(stream: NoiseSecretStream): void {
    this.#probe = new LinkProbe(stream, {
      intervalMs: this.#policy.probeIntervalMs,
      timeoutMs: this.#policy.probeTimeoutMs,
    })
    this.#failures = 0
    this.#schedule()
  }

  /** Drives the link probe; drops a link whose peer stopped acknowledging. */
  tick(now: number): void {
    const probe = this.#probe
    if (probe === null || !probe.tick(now)) return
    this.#host.logger.warn(
      { peer: this.#host.peer, timeoutMs: this.#policy.probeTimeoutMs },
      'peer stopped acknowledging; dropping link',
    )
    this.#host.lose('probe')
  }

  /** Checks now unless a check is already in flight. */
  check(): void {
    const channel = this.#host.channel()
    if (channel === null || this.#checking) return
    this.#checking = true
    const stats = this.#stats
    channel.healthCheck().then(
      (res) => {
        this.#checking = false
        stats.healthOk++
        stats.healthRttMs = ewma(stats.healthRttMs, res.rttMs)
        this.#host.reported(true, res.rttMs)
        this.#failures = 0
        this.#host.recovered()
        if (this.#host.channel() === channel) this.#schedule()
      },
      () => {
        this.#checking = false
        stats.healthFailed++
        this.#host.reported(false, null)
        this.#failures++
        if (this.#host.channel() !== channel) return
        if (this.#failures >= this.#policy.downAfter) {
          this.#host.logger.warn(
            { peer: this.#host.peer, failures: this.#failures },
            'peer stopped answering; dropping connection',
          )
          this.#host.lose('health')
          return
        }
        if (this.#failures >= this.#policy.unhealthyAfter) this.#host.unhealthy()
        this.#schedule()
      },
    )
  }

  /** Stops watching: the link is gone. */
  stop(): void {
    this.#probe = null
    this.#clearTimer()
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
  }

  #schedule(): void {
    this.#clearTimer()
    this.#timer = setTimeout(() => this.check(), this.#policy.healthIntervalMs)
  }
}

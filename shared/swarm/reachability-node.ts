import type { BlindRelayStats } from 'blind-relay'
import type Hyperswarm from 'hyperswarm'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { createSwarm, relayKeyPair } from './create-swarm.js'
import type { CreateSwarmOptions } from './create-swarm.js'
import { checkReachability } from './reachability.js'
import type { ReachabilityReport } from './reachability.js'
import { registerReachabilityMetrics } from './reachability-metrics.js'
import { RelayService } from './relay-service.js'

/** Options of {@link ReachableNode}. */
export interface ReachableNodeOptions {
  swarm: CreateSwarmOptions
  /** Seed (hex) the offered relay's key pair is derived from; empty: no relay offered. */
  relaySeed: string
  /** Offer a blind relay on this node. */
  relayServer: boolean
  /** External blind relays (hex public keys) to retry through when punching fails. */
  relays: readonly string[]
  logger: Logger
  registry: Registry
}

/**
 * The gateway's DHT node as the internet sees it: the swarm built from the config, its
 * start-up reachability check (a refused GATEWAY_HYPERSWARM_REACHABLE claim is a loud
 * warning and firewalled operation), the blind relay it may offer, and the gauges and
 * /ready details that report all of it.
 */
export class ReachableNode {
  readonly swarm: Hyperswarm
  readonly #opts: ReachableNodeOptions
  readonly #log: Logger
  readonly #relay: RelayService | null
  readonly #dialRelays: readonly string[]
  #report: ReachabilityReport | null = null
  #checking: Promise<void> | null = null
  #closing: Promise<void> | null = null

  constructor(opts: ReachableNodeOptions) {
    this.#opts = opts
    this.#log = opts.logger
    if (opts.relayServer && opts.relaySeed === '') {
      throw new Error(
        'GATEWAY_HYPERSWARM_RELAY_SERVER needs GATEWAY_HYPERSWARM_SEED (its key is derived from it)',
      )
    }
    const relayKeys = opts.relayServer ? relayKeyPair(opts.relaySeed) : null
    // Never through our own relay: a peer that can reach it can reach this node, and then a
    // direct dial works. Several gateways may list one shared relay list, ours included.
    const own = relayKeys?.publicKey.toString('hex')
    this.#dialRelays = [...new Set(opts.relays)].filter((k) => k !== own)
    this.swarm = createSwarm({ ...opts.swarm, relayThrough: this.#dialRelays })
    this.#relay =
      relayKeys === null
        ? null
        : new RelayService({
            dht: this.swarm.dht,
            keyPair: relayKeys,
            logger: opts.logger.child({ component: 'blind-relay' }),
          })
    registerReachabilityMetrics(opts.registry, {
      report: () => this.#report,
      relayStats: () => this.#relay?.stats ?? null,
    })
  }

  /** The latest reachability report; null until the check has run. */
  get report(): ReachabilityReport | null {
    return this.#report
  }

  /** Relays a failed direct dial may go through: the external ones, never the one we offer. */
  get relayKeys(): string[] {
    return [...this.#dialRelays]
  }

  /** Counters of the relay this node offers, or null. */
  get relayStats(): BlindRelayStats | null {
    return this.#relay?.stats ?? null
  }

  /** Public key (hex) of the relay this node offers, or null. */
  get relayKey(): string | null {
    return this.#relay?.publicKey ?? null
  }

  /**
   * Checks reachability, then starts the relay and accepts inbound links. A reachable claim is
   * settled before anything listens, so no peer is told a wrong firewall state; without a
   * claim the check only informs and runs in the background.
   */
  async start(): Promise<void> {
    const claimed = this.#opts.swarm.reachable === true
    this.#checking = this.#check(claimed)
    if (claimed) await this.#checking
    await this.#relay?.start()
    await this.swarm.listen()
  }

  /** Resolves once the first check is done (tests and the CLI wait on it). */
  async checked(): Promise<ReachabilityReport | null> {
    await this.#checking
    return this.#report
  }

  /** Extra fields for the proxy's /ready body. */
  details(): Record<string, unknown> {
    const r = this.#report
    return {
      swarm:
        r === null
          ? { status: 'checking' }
          : {
              firewalled: r.firewalled,
              reachableClaim: r.claimed ? (r.verified ? 'verified' : 'refused') : 'none',
              publicAddress: r.publicHost === null ? null : `${r.publicHost}:${r.publicPort}`,
              natType: r.natType,
              relays: this.relayKeys,
            },
    }
  }

  async #check(claimed: boolean): Promise<void> {
    try {
      const report = await checkReachability(this.swarm.dht, {
        claimed,
        configuredPort: this.#opts.swarm.port ?? 0,
      })
      this.#report = report
      const fields = {
        firewalled: report.firewalled,
        publicAddress:
          report.publicHost === null ? null : `${report.publicHost}:${report.publicPort}`,
        localPort: report.localPort,
        natType: report.natType,
      }
      if (report.problem !== null) {
        this.#log.warn(
          { ...fields, problem: report.problem },
          'GATEWAY_HYPERSWARM_REACHABLE=true does NOT hold: falling back to firewalled operation ' +
            '(workers must hole-punch; fix the UDP port forward or set GATEWAY_HYPERSWARM_REACHABLE=false)',
        )
      } else {
        this.#log.info(
          fields,
          claimed ? 'swarm node reachable (claim verified)' : 'swarm node reachability',
        )
      }
    } catch (err) {
      if (!this.swarm.destroyed) this.#log.warn({ err }, 'swarm reachability check failed')
    }
  }

  /** Closes the relay, then the swarm; idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#relay?.close()
      await this.swarm.destroy()
    })()
    return this.#closing
  }
}

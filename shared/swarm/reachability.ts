import type HyperDHT from 'hyperdht'

/**
 * How the node's NAT maps its port, as DHT nodes observe it: `open` (observed address is the
 * bound one: no NAT), `consistent` (one public address and port for every remote), `random`
 * (a new public port per remote: hole punching needs the slow random strategy), `unknown`
 * (too few observations).
 */
export type NatType = 'open' | 'consistent' | 'random' | 'unknown'

export const NAT_TYPES: readonly NatType[] = ['open', 'consistent', 'random', 'unknown']

/** What the start-up check found; logged, exported as metrics and shown on /ready. */
export interface ReachabilityReport {
  /** GATEWAY_HYPERSWARM_REACHABLE was set. */
  readonly claimed: boolean
  /** The claim was checked and holds. */
  readonly verified: boolean
  /** How the node runs after the check: firewalled means peers must hole-punch to reach it. */
  readonly firewalled: boolean
  readonly publicHost: string | null
  /** Observed public port; 0 when random or unknown. */
  readonly publicPort: number
  /** Bound UDP port of the DHT's server socket. */
  readonly localPort: number
  readonly natType: NatType
  /** Why a claim was refused; null when none was made or it holds. */
  readonly problem: string | null
}

/** Observations {@link judgeReachability} decides from (separate from the DHT for unit tests). */
export interface ReachabilityObservations {
  claimed: boolean
  /** The configured port (0 = random). */
  configuredPort: number
  localHost: string | null
  localPort: number
  publicHost: string | null
  publicPort: number
  /** The DHT's own view after bootstrap (dht-rpc probes unless the node claimed reachable). */
  dhtFirewalled: boolean
  /**
   * Result of asking other nodes to send unsolicited packets to the server port: true when
   * they arrived, false when not, null when the probe is unavailable.
   */
  probeReached: boolean | null
}

/** Classifies the NAT from the observed and bound addresses. */
export function natType(
  o: Pick<ReachabilityObservations, 'localHost' | 'localPort' | 'publicHost' | 'publicPort'>,
): NatType {
  if (o.publicHost === null) return 'unknown'
  if (o.publicPort === 0) return 'random'
  if (o.publicHost === o.localHost && o.publicPort === o.localPort) return 'open'
  return 'consistent'
}

/** Decides whether a reachable claim holds; pure, so every refusal reason is unit-tested. */
export function judgeReachability(o: ReachabilityObservations): ReachabilityReport {
  const base = {
    claimed: o.claimed,
    publicHost: o.publicHost,
    publicPort: o.publicPort,
    localPort: o.localPort,
    natType: natType(o),
  }
  if (!o.claimed) {
    return { ...base, verified: false, firewalled: o.dhtFirewalled, problem: null }
  }
  const problem = claimProblem(o)
  return problem === null
    ? { ...base, verified: true, firewalled: false, problem: null }
    : { ...base, verified: false, firewalled: true, problem }
}

function claimProblem(o: ReachabilityObservations): string | null {
  if (o.configuredPort === 0) {
    return 'GATEWAY_HYPERSWARM_PORT is 0 (random): no published port can match'
  }
  if (o.probeReached === null) return 'the DHT library offers no reachability probe'
  if (o.probeReached === false) {
    return `unsolicited packets from other DHT nodes did not reach UDP port ${o.configuredPort}: the port is not published or a firewall drops it`
  }
  if (o.publicHost === null) return 'no DHT node reported our public address'
  if (o.publicPort === 0) {
    return 'the NAT gives a new public port per remote (randomizing): the port is not published'
  }
  if (o.publicPort !== o.configuredPort) {
    return `DHT nodes see public port ${o.publicPort}, not ${o.configuredPort}: publish the same port number`
  }
  return null
}

// dht-rpc's own network-state update: several nodes are asked (PING_NAT) to answer on our
// server socket from another socket of theirs, so the NAT sees unsolicited packets; when they
// arrive on a consistent public address, dht-rpc goes unfirewalled and samples its public
// address from the server socket. Not public API, hence feature-checked. It must run while
// the node is firewalled: the server socket then carries nothing but the probe's answers.
interface ProbingDht {
  _updateNetworkState?: (onlyFirewall: boolean) => Promise<boolean>
  io?: { firewalled: boolean }
  localAddress?: () => { host: string; port: number } | null
}

/**
 * Checks the node's reachability once it is bootstrapped. The node starts firewalled like any
 * HyperDHT node; a reachable claim is probed and, when it holds, the node switches to
 * unfirewalled operation (what dht-rpc does itself when its own probe succeeds), so peers
 * connect straight to it. A claim that does not hold leaves it firewalled: peers punch holes
 * instead of dialling a port that drops their packets. Call before anything listens.
 */
export async function checkReachability(
  dht: HyperDHT,
  opts: { claimed: boolean; configuredPort: number },
): Promise<ReachabilityReport> {
  await dht.fullyBootstrapped()
  const probing = dht as unknown as ProbingDht
  const local = probing.localAddress?.() ?? null
  const bound = dht.address()
  // A node bound to one address (tests, netns) knows it exactly; otherwise dht-rpc guesses
  // the first non-internal interface.
  const localHost =
    bound.host !== '0.0.0.0' && bound.host !== '::' ? bound.host : (local?.host ?? null)
  const localPort = local?.port ?? bound.port
  let probeReached: boolean | null = null
  if (opts.claimed && !dht.firewalled) {
    // dht-rpc's own probe already found the server port reachable during bootstrap.
    probeReached = true
  } else if (opts.claimed && typeof probing._updateNetworkState === 'function') {
    await probing._updateNetworkState.call(dht, true)
    probeReached = !dht.firewalled
  }
  const publicHost = dht.host
  const publicPort = dht.port
  const report = judgeReachability({
    claimed: opts.claimed,
    configuredPort: opts.configuredPort,
    localHost,
    localPort,
    publicHost,
    publicPort,
    dhtFirewalled: dht.firewalled,
    probeReached,
  })
  if (opts.claimed) {
    dht.firewalled = report.firewalled
    if (probing.io !== undefined) probing.io.firewalled = report.firewalled
  }
  return report
}

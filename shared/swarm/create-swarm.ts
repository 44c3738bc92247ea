import { createHash } from 'node:crypto'
import HyperDHT from 'hyperdht'
import type { KeyPair } from 'hyperdht'
import Hyperswarm from 'hyperswarm'

/** A DHT node address. */
export interface BootstrapNode {
  host: string
  port: number
}

/** Options of {@link createSwarm}. */
export interface CreateSwarmOptions {
  /** DHT bootstrap nodes; empty or absent means the public DHT. */
  bootstrap?: readonly BootstrapNode[]
  /** Address the DHT binds to; absent means all interfaces. */
  host?: string
  /** 32-byte seed for a stable key pair. */
  seed?: Buffer
  keyPair?: KeyPair
  /**
   * Fixed UDP port of the DHT's server socket; 0 or absent: random. A fixed port is bound
   * exactly (no silent fallback to a neighbour), because a firewall rule points at it.
   */
  port?: number
  /**
   * The port is claimed reachable from the internet. The node still starts firewalled;
   * `checkReachability` probes the claim and switches it to unfirewalled when it holds.
   */
  reachable?: boolean
  /**
   * Blind relays (hex public keys) Hyperswarm falls back to for the connections it makes and
   * accepts: used when this node's NAT randomizes ports, or a punch failed with a code that
   * calls for relaying (Hyperswarm's own rule). Connections dialled with `dht.connect` pass
   * `relayThrough` themselves.
   */
  relayThrough?: readonly string[] | (() => readonly string[])
}

/**
 * Builds one Hyperswarm on its own HyperDHT. Hyperswarm does not pass a bind
 * address through to the DHT it creates, so the DHT is made here: that is the
 * only way to keep a node on loopback (tests) or on a chosen interface.
 */
export function createSwarm(opts: CreateSwarmOptions = {}): Hyperswarm {
  const keyPair = opts.keyPair ?? HyperDHT.keyPair(opts.seed)
  const port = opts.port ?? 0
  const dht = new HyperDHT({
    ...(opts.bootstrap !== undefined && opts.bootstrap.length > 0
      ? { bootstrap: opts.bootstrap.map((n) => ({ host: n.host, port: n.port })) }
      : {}),
    ...(opts.host ? { host: opts.host } : {}),
    ...(port === 0 ? {} : { port, anyPort: false }),
    keyPair,
  })
  const source = opts.relayThrough
  if (source === undefined) return new Hyperswarm({ dht, keyPair })
  const current = typeof source === 'function' ? source : () => source
  // Hyperswarm's own rule (relay when forced by a failed punch or when our NAT randomizes),
  // with a list that may be learnt later (a worker gets it from its registration answer).
  const relayThrough = (force: boolean, swarm: Hyperswarm): Buffer[] | null => {
    if (!force && !swarm.dht.randomized) return null
    const keys = current()
    return keys.length === 0 ? null : keys.map((k) => Buffer.from(k, 'hex'))
  }
  return new Hyperswarm({ dht, keyPair, relayThrough })
}

/** Swarm options from the validated `hyperswarm` config section. */
export function swarmOptions(config: {
  bootstrap: readonly BootstrapNode[]
  host: string
  seed: string
  port?: number
  reachable?: boolean
}): CreateSwarmOptions {
  return {
    bootstrap: config.bootstrap,
    ...(config.host === '' ? {} : { host: config.host }),
    ...(config.seed === '' ? {} : { seed: Buffer.from(config.seed, 'hex') }),
    ...(config.port === undefined || config.port === 0 ? {} : { port: config.port }),
    ...(config.reachable === true ? { reachable: true } : {}),
  }
}

/**
 * Key pair of the blind relay a gateway node offers, derived from the swarm seed so that the
 * registrar (which shares the seed) can publish it without talking to the proxy.
 */
export function relayKeyPair(seed: string): KeyPair {
  const relaySeed = createHash('sha256').update('hypertuna-blind-relay:').update(seed).digest()
  return HyperDHT.keyPair(relaySeed)
}

/** Public key (hex) of the swarm key pair a seed gives; what the registrar publishes. */
export function seedPublicKey(seed: string): string {
  return HyperDHT.keyPair(Buffer.from(seed, 'hex')).publicKey.toString('hex')
}

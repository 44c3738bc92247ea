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
}

/**
 * Builds one Hyperswarm on its own HyperDHT. Hyperswarm does not pass a bind
 * address through to the DHT it creates, so the DHT is made here: that is the
 * only way to keep a node on loopback (tests) or on a chosen interface.
 */
export function createSwarm(opts: CreateSwarmOptions = {}): Hyperswarm {
  const keyPair = opts.keyPair ?? HyperDHT.keyPair(opts.seed)
  const dht = new HyperDHT({
    ...(opts.bootstrap !== undefined && opts.bootstrap.length > 0
      ? { bootstrap: opts.bootstrap.map((n) => ({ host: n.host, port: n.port })) }
      : {}),
    ...(opts.host ? { host: opts.host } : {}),
    keyPair,
  })
  return new Hyperswarm({ dht, keyPair })
}

/** Swarm options from the validated `hyperswarm` config section. */
export function swarmOptions(config: {
  bootstrap: readonly BootstrapNode[]
  host: string
  seed: string
}): CreateSwarmOptions {
  return {
    bootstrap: config.bootstrap,
    ...(config.host === '' ? {} : { host: config.host }),
    ...(config.seed === '' ? {} : { seed: Buffer.from(config.seed, 'hex') }),
  }
}

import HyperDHT from 'hyperdht'
import { RelayChannel } from '../shared/protocol/relay-channel.js'
import { Capability, LEGACY_CAPABILITIES } from '../shared/protocol/wire.js'
import type { BootstrapNode } from '../shared/swarm/create-swarm.js'
import { LOOPBACK } from './testnet.js'

/** A relay-v2 channel on its own loopback HyperDHT node, as the proxy's pool would hold it. */
export interface BareLink {
  channel: RelayChannel
  close(): Promise<void>
}

/**
 * Opens a gateway-side relay-v2 channel to `peer` (hex) from a fresh HyperDHT node on the
 * bench testnet, advertising what the proxy advertises to a push worker, so the bench can send
 * the proxy's requests without the proxy.
 */
export async function openBareLink(
  bootstrap: readonly BootstrapNode[],
  peer: string,
): Promise<BareLink> {
  const dht = new HyperDHT({
    bootstrap: bootstrap.map((n) => ({ host: n.host, port: n.port })),
    host: LOOPBACK,
  })
  const stream = dht.connect(Buffer.from(peer, 'hex'))
  stream.on('error', () => {})
  const channel = new RelayChannel(stream, {
    isServer: false,
    gateway: true,
    capabilities: [
      ...LEGACY_CAPABILITIES,
      Capability.PUSH,
      Capability.TEXT_BODY,
      Capability.PIPELINE,
    ],
  })
  const close = async (): Promise<void> => {
    await channel.close()
    stream.destroy()
    await dht.destroy()
  }
  try {
    await channel.opened()
  } catch (err) {
    await close()
    throw err
  }
  return { channel, close }
}

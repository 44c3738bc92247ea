import type { RelayChannel } from '../protocol/relay-channel.js'
import type { GatewayError } from '../errors.js'
import type { PeerHost, PeerPolicy } from './peer-policy.js'

/**
 * Announces this gateway to a worker with `POST /identify-gateway`. Some
 * workers never answer, so nothing waits on it.
 */
export function identifyGateway(
  channel: RelayChannel,
  policy: Pick<PeerPolicy, 'capabilities' | 'healthTimeoutMs'>,
  host: Pick<PeerHost, 'gatewayKeyHex' | 'logger'>,
  peer: string,
): void {
  const body = Buffer.from(
    JSON.stringify({
      status: 'identified',
      payload: { role: 'gateway', capabilities: policy.capabilities },
      peer: host.gatewayKeyHex,
      timestamp: Date.now(),
    }),
  )
  channel
    .request(
      {
        method: 'POST',
        path: '/identify-gateway',
        headers: { 'content-type': 'application/json' },
        body,
      },
      { timeoutMs: policy.healthTimeoutMs },
    )
    .catch((err: GatewayError) => host.logger.debug({ peer, code: err.code }, 'no identify answer'))
}

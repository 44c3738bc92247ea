import type { EventEmitter } from 'node:events'
import type { NoiseSecretStream } from 'hyperdht'
import type { Logger } from 'pino'
import type { GatewayError } from '../errors.js'
import { RelayChannel } from '../protocol/relay-channel.js'
import type { JsonObject } from '../protocol/wire.js'
import type { PeerPolicy } from './peer-policy.js'

/**
 * The gateway's side of a relay channel on `stream`: its worker-originated
 * events are re-emitted on `events` (wsframes go to `onWsFrame` when given),
 * and a channel the peer closes takes the stream down with it.
 */
export function createGatewayChannel(
  stream: NoiseSecretStream,
  policy: Pick<PeerPolicy, 'capabilities' | 'requestTimeoutMs' | 'healthTimeoutMs'>,
  events: EventEmitter,
  logger: Logger,
  peer: string,
  onWsFrame: (frame: JsonObject) => void = (frame) => events.emit('wsframe', frame),
): RelayChannel {
  const channel = new RelayChannel(stream, {
    isServer: false,
    gateway: true,
    capabilities: policy.capabilities,
    requestTimeoutMs: policy.requestTimeoutMs,
    healthTimeoutMs: policy.healthTimeoutMs,
  })
  channel.on('wsframe', onWsFrame)
  channel.on('telemetry', (payload: JsonObject) => events.emit('telemetry', payload))
  channel.on('protocol-error', (err: GatewayError) => {
    events.emit('protocol-error', err)
    logger.warn({ peer, err: err.message }, 'undecodable message from peer')
  })
  // A peer that closes our channel cannot serve us; drop the connection.
  channel.on('close', () => stream.destroy())
  return channel
}

import type { NoiseSecretStream } from 'hyperdht'
import type { Logger } from 'pino'
import { Capability } from '../protocol/wire.js'
import type { BackoffOptions } from '../retry/backoff.js'

/** Timings and policy shared by every pooled peer. */
export interface PeerPolicy {
  capabilities: readonly string[]
  requestTimeoutMs: number
  healthTimeoutMs: number
  healthIntervalMs: number
  /** Consecutive failed health checks before a peer is unhealthy. */
  unhealthyAfter: number
  /** Consecutive failed health checks before the connection is dropped. */
  downAfter: number
  /** Longest wait for one dial attempt plus channel handshake. */
  openTimeoutMs: number
  /** Pause between link probes (one empty frame each), ms. */
  probeIntervalMs: number
  /** A probe the peer's transport has not acknowledged by then drops the link, ms. */
  probeTimeoutMs: number
  backoff: BackoffOptions
  /** Announce ourselves with `POST /identify-gateway` on open. */
  identify: boolean
  /**
   * Longest drain of a replaced link (`handover`): the worker's acknowledgement and the calls
   * still on it; new requests to the peer wait meanwhile, ms. A held request's own timeout
   * starts when it is sent, so a caller may wait this long plus the request timeout.
   */
  handoverGraceMs: number
}

/** What a connection needs from its pool. */
export interface PeerHost {
  /** Starts one dial; `relayed` routes it through one of the configured blind relays. */
  dial(publicKey: Buffer, relayed: boolean): NoiseSecretStream
  /** Blind relays are configured, so a failed punch can be retried through one. */
  readonly canRelay: boolean
  readonly gatewayKeyHex: string
  readonly logger: Logger
}

/** Default policy: legacy timeouts, health every 5 s, a link probe every second. */
export const DEFAULT_PEER_POLICY: PeerPolicy = {
  capabilities: [
    Capability.HTTP,
    Capability.WEBSOCKET,
    Capability.HEALTH,
    Capability.PUSH,
    Capability.TEXT_BODY,
    Capability.PIPELINE,
    Capability.RELAY_INFO,
    Capability.TUNNEL,
    Capability.HANDOVER,
  ],
  requestTimeoutMs: 30_000,
  healthTimeoutMs: 5_000,
  healthIntervalMs: 5_000,
  unhealthyAfter: 2,
  downAfter: 4,
  openTimeoutMs: 20_000,
  probeIntervalMs: 1_000,
  probeTimeoutMs: 1_500,
  backoff: { minMs: 500, maxMs: 30_000 },
  identify: true,
  handoverGraceMs: 5_000,
}

import { WorkerSecretBox } from '../shared/auth/worker-secret-box.js'
import type { GatewayConfig } from '../shared/config/gateway-config.js'
import type { PeerPolicy } from '../shared/swarm/peer-connection.js'
import { DEFAULT_PEER_POLICY } from '../shared/swarm/peer-policy.js'
import type { ProxyServerOptions } from './proxy-server.js'

/** The proxy's typed options from the validated config (dependencies are added by the caller). */
export function proxyServerOptions(
  config: GatewayConfig,
): Omit<ProxyServerOptions, 'store' | 'pool' | 'logger' | 'registry'> {
  const p = config.proxy
  const { secret, multiTenant, workerSecretKey } = config.registration
  return {
    host: p.host,
    port: p.port,
    // Multi-tenant: no token signed with the shared secret opens anything.
    secret: multiTenant ? '' : secret,
    workerSecrets: workerSecretKey === '' ? null : new WorkerSecretBox(workerSecretKey),
    publicUrl: config.publicUrl,
    trustedProxies: config.trustedProxies,
    limits: {
      maxFrameBytes: p.maxFrameBytes,
      maxQueuedMessages: p.maxQueuedMessages,
      maxBufferedBytes: p.maxBufferedBytes,
      maxSubscriptions: p.maxSubscriptions,
      maxSessionsPerToken: p.maxSessionsPerToken,
      maxSessionsPerIp: p.maxSessionsPerIp,
      maxSessionsPerPubkey: p.maxSessionsPerPubkey,
      sessionOpensPerIpPerMinute: p.sessionOpensPerIpPerMinute,
      pubkeyMessagesPerSecond: p.pubkeyMessagesPerSecond,
      sessionLeaseMs: p.sessionLeaseMs,
      messagesPerSecond: p.messagesPerSecond,
      messageBurst: p.messageBurst,
      tunnelBytesPerSecond: p.tunnelBytesPerSecond,
      linkWaitMs: p.linkWaitMs,
      pollIntervalMs: p.pollIntervalMs,
      legacyPipelineDepth: p.legacyPipelineDepth,
      legacyPipelineOff: p.legacyPipelineOff,
      triggeredPollGapMs: p.triggeredPollGapMs,
      pingIntervalMs: p.pingIntervalMs,
      shutdownGraceMs: p.shutdownGraceMs,
    },
  }
}

/** Pool policy and behaviour from the validated config. */
export function peerPoolOptions(
  config: GatewayConfig,
): PeerPolicy & { joinTopic: boolean; idleTimeoutMs: number } {
  const p = config.pool
  return {
    ...DEFAULT_PEER_POLICY,
    requestTimeoutMs: p.requestTimeoutMs,
    healthIntervalMs: p.healthIntervalMs,
    healthTimeoutMs: p.healthTimeoutMs,
    unhealthyAfter: p.unhealthyAfter,
    downAfter: p.downAfter,
    openTimeoutMs: p.openTimeoutMs,
    probeIntervalMs: p.probeIntervalMs,
    probeTimeoutMs: p.probeTimeoutMs,
    backoff: { minMs: p.backoffMinMs, maxMs: p.backoffMaxMs },
    joinTopic: p.joinTopic,
    idleTimeoutMs: p.idleTimeoutMs,
  }
}

import type convict from 'convict'
import type { GatewayConfig } from './gateway-config.js'

/** Client-facing proxy: listener, sessions, limits and forwarding. */
export const proxySchema: convict.Schema<GatewayConfig['proxy']> = {
  host: {
    doc: 'Address the client-facing proxy (WebSocket and HTTP) listens on, behind Caddy.',
    format: 'non-empty-string',
    default: '127.0.0.1',
    env: 'GATEWAY_PROXY_HOST',
  },
  port: {
    doc: 'TCP port of the client-facing proxy. 0 picks a free port.',
    format: 'port',
    default: 8080,
    env: 'GATEWAY_PROXY_PORT',
  },
  maxFrameBytes: {
    doc: 'Largest WebSocket frame a client may send, in bytes; larger frames close the socket with 1009.',
    format: 'positive-int',
    default: 262144,
    env: 'GATEWAY_PROXY_MAX_FRAME_BYTES',
  },
  maxQueuedMessages: {
    doc: 'Client messages one session may have waiting to be forwarded; past it the message is refused in kind (OK false / CLOSED "rate-limited: ...").',
    format: 'positive-int',
    default: 256,
    env: 'GATEWAY_PROXY_MAX_QUEUED_MESSAGES',
  },
  maxBufferedBytes: {
    doc: 'Output buffered for a slow client before the session is closed with 1008.',
    format: 'positive-int',
    default: 4194304,
    env: 'GATEWAY_PROXY_MAX_BUFFERED_BYTES',
  },
  maxSessionsPerToken: {
    doc:
      "Concurrent WebSocket sessions one client token may hold, over every proxy sharing the Redis store. A relay's " +
      'share link is one token for its whole audience, so this is a ceiling, not a per-person limit.',
    format: 'positive-int',
    default: 1000,
    env: 'GATEWAY_PROXY_MAX_SESSIONS_PER_TOKEN',
  },
  maxSessionsPerIp: {
    doc:
      'Concurrent WebSocket sessions from one client IP address (from X-Forwarded-For of a trusted proxy), over ' +
      'every proxy sharing the Redis store. Many users may share one address behind carrier NAT.',
    format: 'positive-int',
    default: 128,
    env: 'GATEWAY_PROXY_MAX_SESSIONS_PER_IP',
  },
  maxSessionsPerPubkey: {
    doc: 'Concurrent WebSocket sessions of one person: tokens naming the same pubkey, over every proxy sharing the Redis store.',
    format: 'positive-int',
    default: 64,
    env: 'GATEWAY_PROXY_MAX_SESSIONS_PER_PUBKEY',
  },
  sessionOpensPerIpPerMinute: {
    doc: 'New WebSocket sessions one client IP address may open per minute, over every proxy sharing the Redis store.',
    format: 'positive-int',
    default: 600,
    env: 'GATEWAY_PROXY_SESSION_OPENS_PER_IP_PER_MINUTE',
  },
  pubkeyMessagesPerSecond: {
    doc:
      'Client messages per second one person (a token naming a pubkey) may send over all their sessions and every ' +
      'proxy sharing the Redis store (sustained; bursts up to twice that).',
    format: 'positive-int',
    default: 100,
    env: 'GATEWAY_PROXY_PUBKEY_MESSAGES_PER_SECOND',
  },
  sessionLeaseMs: {
    doc:
      'With Redis: how long a session slot counts without being renewed, in ms. The proxy renews its slots every ' +
      'third of this; slots of a proxy that crashed are free again after it.',
    format: 'positive-int',
    default: 30000,
    env: 'GATEWAY_PROXY_SESSION_LEASE_MS',
  },
  maxSubscriptions: {
    doc: 'Open subscriptions (REQs) one session may hold; a REQ past it gets CLOSED "rate-limited: ..." (strfry: 200); announced as max_subscriptions in NIP-11.',
    format: 'positive-int',
    default: 200,
    env: 'GATEWAY_PROXY_MAX_SUBSCRIPTIONS',
  },
  messagesPerSecond: {
    doc: 'Client messages per second one session may send, sustained (bursts: GATEWAY_PROXY_MESSAGE_BURST).',
    format: 'positive-int',
    default: 50,
    env: 'GATEWAY_PROXY_MESSAGES_PER_SECOND',
  },
  messageBurst: {
    doc: 'Client messages one session may send at once above the sustained rate (a client opening a few hundred subscriptions at start-up).',
    format: 'positive-int',
    default: 500,
    env: 'GATEWAY_PROXY_MESSAGE_BURST',
  },
  tunnelBytesPerSecond: {
    doc: 'Bytes per second a tunnelled session (tunnel extension) may send towards its worker, sustained; a client over it is slowed down (its socket paused), not closed. Bursts up to one second of it, or one largest frame.',
    format: 'positive-int',
    default: 1048576,
    env: 'GATEWAY_PROXY_TUNNEL_BYTES_PER_SECOND',
  },
  linkWaitMs: {
    doc: "How long a session's messages wait for a worker link (cold start, failover) before they are refused, in ms.",
    format: 'positive-int',
    default: 20000,
    env: 'GATEWAY_PROXY_LINK_WAIT_MS',
  },
  pollIntervalMs: {
    doc: 'How often a session polls a worker that does not support push, in ms (legacy: 1000).',
    format: 'positive-int',
    default: 1000,
    env: 'GATEWAY_PROXY_POLL_INTERVAL_MS',
  },
  legacyPipelineDepth: {
    doc:
      'Client messages of one session in flight at once to a worker without the pipeline ' +
      'extension (never two on one subscription id, never a REQ past an EVENT; answers keep ' +
      'the client order). 1 turns legacy pipelining off.',
    format: 'positive-int',
    default: 8,
    env: 'GATEWAY_PROXY_LEGACY_PIPELINE_DEPTH',
  },
  legacyPipelineOff: {
    doc: 'Comma-separated relay keys or public identifiers whose legacy workers get one message at a time.',
    format: 'string-list',
    default: [],
    env: 'GATEWAY_PROXY_LEGACY_PIPELINE_OFF',
  },
  triggeredPollGapMs: {
    doc:
      'Event-triggered polling: after a worker without push accepts an EVENT sent through the ' +
      'gateway, its sessions with open subscriptions poll early, each at most once per this many ' +
      'ms (50: at most 20 extra polls per second per session). The same bound holds the early ' +
      'polls (at most 3) after a REQ whose answer lacks its EOSE. 0 turns both off.',
    format: 'nat',
    default: 50,
    env: 'GATEWAY_PROXY_TRIGGERED_POLL_GAP_MS',
  },
  pingIntervalMs: {
    doc: 'WebSocket ping interval, in ms; a client that misses a pong is disconnected.',
    format: 'positive-int',
    default: 30000,
    env: 'GATEWAY_PROXY_PING_INTERVAL_MS',
  },
  shutdownGraceMs: {
    doc: 'On SIGTERM, how long to let in-flight forwards finish before closing the pool, in ms.',
    format: 'positive-int',
    default: 10000,
    env: 'GATEWAY_PROXY_SHUTDOWN_GRACE_MS',
  },
}

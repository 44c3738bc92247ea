import type convict from 'convict'
import { registerConfigFormats } from './config-formats.js'
import {
  CONFIG_FILE_ENV,
  LOG_LEVELS,
  MIN_ADMIN_TOKEN_BYTES,
  MIN_SECRET_BYTES,
} from './gateway-config.js'
import type { GatewayConfig } from './gateway-config.js'

export * from './gateway-config.js'
import { ErrorCode } from '../errors.js'
import type { ErrorCodeName } from '../errors.js'

/**
 * Extra, non-convict property a schema entry may carry: the stable error code reported (in
 * `CONFIG_INVALID` details) when the entry's value fails its format.
 */
export interface ConfigEntryExtras {
  failureCode?: ErrorCodeName
}

registerConfigFormats()

/**
 * The convict schema of the gateway. Leaves carry `env`, `doc`, `format`, `default` and, for
 * secrets, `sensitive`; add new keys to the group they belong to (and to {@link GatewayConfig}).
 */
export const gatewayConfigSchema: convict.Schema<GatewayConfig> = {
  configFile: {
    doc:
      'Path to a JSON config file using the nested keys listed here (e.g. {"proxy": {"port": 8080}}). ' +
      'Environment variables override values from the file. Empty: no file.',
    format: String,
    default: '',
    env: CONFIG_FILE_ENV,
  },
  publicUrl: {
    doc:
      'Public URL of the gateway edge (the Caddy front), e.g. https://gateway.example.com. Used to build ' +
      'the ws(s):// URLs handed to clients. Empty: derived from the Host header of each request.',
    format: 'http-url-or-empty',
    default: '',
    env: 'GATEWAY_PUBLIC_URL',
  },
  trustedProxies: {
    doc:
      'Comma-separated addresses or CIDR ranges whose X-Forwarded-For header is believed (Caddy in ' +
      'front; compose sets its fixed address). Client IPs drive per-IP limits. Empty (the default): ' +
      'no header is believed and every client is taken at its socket address.',
    format: 'address-list',
    default: [],
    env: 'GATEWAY_TRUSTED_PROXIES',
  },
  log: {
    level: {
      doc: 'Minimum log level written to stdout (JSON lines).',
      format: [...LOG_LEVELS],
      default: 'info',
      env: 'GATEWAY_LOG_LEVEL',
    },
  },
  proxy: {
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
  },
  registrar: {
    host: {
      doc: 'Address the registration API (/api/relays) listens on, behind Caddy.',
      format: 'non-empty-string',
      default: '127.0.0.1',
      env: 'GATEWAY_REGISTRAR_HOST',
    },
    port: {
      doc: 'TCP port of the registration API. 0 picks a free port.',
      format: 'port',
      default: 8081,
      env: 'GATEWAY_REGISTRAR_PORT',
    },
    maxSkewSeconds: {
      doc: "How far a registration's issuedAt may be from the registrar's clock, in seconds.",
      format: 'positive-int',
      default: 300,
      env: 'GATEWAY_REGISTRAR_MAX_SKEW_SECONDS',
    },
    legacyDelete: {
      doc: 'Accept the legacy DELETE signature (replayable forever; counted in metrics). Set false once every worker uses the replay-proof form.',
      format: 'bool',
      default: true,
      env: 'GATEWAY_REGISTRAR_LEGACY_DELETE',
    },
    rateLimitPerMinute: {
      doc: 'Requests per minute one client IP may make to the registration API.',
      format: 'positive-int',
      default: 120,
      env: 'GATEWAY_REGISTRAR_RATE_LIMIT',
    },
    bodyLimitBytes: {
      doc: 'Largest JSON body the registration API accepts, in bytes.',
      format: 'positive-int',
      default: 262144,
      env: 'GATEWAY_REGISTRAR_BODY_LIMIT',
    },
    gatewayKeys: {
      doc:
        'Comma-separated swarm public keys (64 hex) of the proxies, published in GET /api/gateway and ' +
        'in registration answers so kit workers dial out to them. Empty: the key derived from ' +
        'GATEWAY_HYPERSWARM_SEED (one proxy sharing the seed), or none when no seed is set.',
      format: 'hex32-list',
      default: [],
      env: 'GATEWAY_REGISTRAR_GATEWAY_KEYS',
    },
  },
  registration: {
    secret: {
      doc:
        'Shared secret for registration signatures and client tokens (HMAC-SHA256), the same value the ' +
        `workers use. At least ${MIN_SECRET_BYTES} bytes. Empty: registration is not configured and the ` +
        'registrar answers 503.',
      format: 'secret-or-empty',
      default: '',
      env: 'GATEWAY_REGISTRATION_SECRET',
      sensitive: true,
      failureCode: ErrorCode.SECRET_TOO_SHORT,
    },
    ttl: {
      doc: 'Seconds a relay registration lives unless the worker renews it.',
      format: 'positive-int',
      default: 300,
      env: 'GATEWAY_REGISTRATION_TTL',
    },
    redisUrl: {
      doc:
        'Redis URL (redis:// or rediss://) of the shared registration store, needed when more than one ' +
        'gateway process serves the same relays. May contain a password. Empty: in-memory store.',
      format: 'redis-url-or-empty',
      default: '',
      env: 'GATEWAY_REGISTRATION_REDIS',
      sensitive: true,
    },
    redisPrefix: {
      doc: 'Prefix of every Redis key the registration store writes.',
      format: 'non-empty-string',
      default: 'gateway:registrations:',
      env: 'GATEWAY_REGISTRATION_REDIS_PREFIX',
    },
  },
  pool: {
    joinTopic: {
      doc: 'Also join the discovery topic as a client, connecting to every announcing worker (legacy behaviour). Registered peers are dialled directly either way.',
      format: 'bool',
      default: false,
      env: 'GATEWAY_POOL_JOIN_TOPIC',
    },
    requestTimeoutMs: {
      doc: 'Deadline of one request to a worker, in ms (legacy: 30000).',
      format: 'positive-int',
      default: 30000,
      env: 'GATEWAY_POOL_REQUEST_TIMEOUT_MS',
    },
    healthIntervalMs: {
      doc: 'Pause between health checks of a connected worker, in ms.',
      format: 'positive-int',
      default: 5000,
      env: 'GATEWAY_POOL_HEALTH_INTERVAL_MS',
    },
    healthTimeoutMs: {
      doc: 'Deadline of one health check, in ms (legacy: 5000).',
      format: 'positive-int',
      default: 5000,
      env: 'GATEWAY_POOL_HEALTH_TIMEOUT_MS',
    },
    unhealthyAfter: {
      doc: 'Consecutive failed health checks before a worker is marked unhealthy.',
      format: 'positive-int',
      default: 2,
      env: 'GATEWAY_POOL_UNHEALTHY_AFTER',
    },
    downAfter: {
      doc: 'Consecutive failed health checks before the connection is dropped and redialled.',
      format: 'positive-int',
      default: 4,
      env: 'GATEWAY_POOL_DOWN_AFTER',
    },
    openTimeoutMs: {
      doc: 'Longest wait for a dial plus channel handshake, in ms.',
      format: 'positive-int',
      default: 20000,
      env: 'GATEWAY_POOL_OPEN_TIMEOUT_MS',
    },
    probeIntervalMs: {
      doc:
        'Pause between link probes of a worker connection, in ms: one empty encrypted frame the ' +
        "worker's transport acknowledges, so a killed or frozen worker is noticed in seconds at about " +
        'one small frame per interval (workers need nothing new).',
      format: 'positive-int',
      default: 1000,
      env: 'GATEWAY_POOL_PROBE_INTERVAL_MS',
    },
    probeTimeoutMs: {
      doc: 'A link probe not acknowledged within this long drops the connection (failover), in ms.',
      format: 'positive-int',
      default: 1500,
      env: 'GATEWAY_POOL_PROBE_TIMEOUT_MS',
    },
    idleTimeoutMs: {
      doc: 'Close a worker connection no session or request used for this long, in ms.',
      format: 'positive-int',
      default: 120000,
      env: 'GATEWAY_POOL_IDLE_TIMEOUT_MS',
    },
    backoffMinMs: {
      doc: 'First reconnect delay after a worker connection fails, in ms; doubles per attempt, with jitter.',
      format: 'positive-int',
      default: 500,
      env: 'GATEWAY_POOL_BACKOFF_MIN_MS',
    },
    backoffMaxMs: {
      doc: 'Longest reconnect delay, in ms.',
      format: 'positive-int',
      default: 30000,
      env: 'GATEWAY_POOL_BACKOFF_MAX_MS',
    },
  },
  token: {
    defaultTtl: {
      doc: 'Seconds a client token minted by the gateway stays valid when no lifetime is requested.',
      format: 'positive-int',
      default: 3600,
      env: 'GATEWAY_DEFAULT_TOKEN_TTL',
    },
    maxTtl: {
      doc: 'Longest lifetime, in seconds, a worker may request for a token the registrar issues.',
      format: 'positive-int',
      default: 604800,
      env: 'GATEWAY_MAX_TOKEN_TTL',
    },
  },
  admin: {
    token: {
      doc:
        'Bearer token of the registrar admin API (/api/admin/*, the hypertuna-gateway CLI), at least ' +
        `${MIN_ADMIN_TOKEN_BYTES} bytes and different from the registration secret. Empty: the admin API is off.`,
      format: 'admin-token-or-empty',
      default: '',
      env: 'GATEWAY_ADMIN_TOKEN',
      sensitive: true,
      failureCode: ErrorCode.SECRET_TOO_SHORT,
    },
  },
  hyperswarm: {
    bootstrap: {
      doc:
        'Comma-separated host:port list of DHT bootstrap nodes, e.g. 10.0.0.5:49737,dht.example.org:49737 ' +
        '(in a config file: the same string or an array of {"host", "port"} objects). Empty: the public ' +
        'HyperDHT bootstrap nodes.',
      format: 'host-port-list',
      default: [],
      env: 'GATEWAY_HYPERSWARM_BOOTSTRAP',
    },
    host: {
      doc: 'IPv4 address the DHT node binds to. Empty: the library default (all interfaces).',
      format: 'ipv4-or-empty',
      default: '',
      env: 'GATEWAY_HYPERSWARM_HOST',
    },
    seed: {
      doc:
        'Seed of the gateway swarm key pair: 64 hex characters (32 bytes). Set it to keep the same ' +
        'public key across restarts. Empty: a new random key pair on every start.',
      format: 'hex32-or-empty',
      default: '',
      env: 'GATEWAY_HYPERSWARM_SEED',
      sensitive: true,
    },
    port: {
      doc:
        'Fixed UDP port of the DHT node, so a firewall or NAT can publish it (compose.yaml publishes ' +
        'it on the proxy). 0: the library default (49737, or a free neighbour or random port when taken; ' +
        'fine behind NAT when hole punching works).',
      format: 'port',
      default: 0,
      env: 'GATEWAY_HYPERSWARM_PORT',
    },
    reachable: {
      doc:
        'true when GATEWAY_HYPERSWARM_PORT is reachable from the internet (published through the NAT or ' +
        'firewall): the node then runs unfirewalled and workers connect straight to it, without hole ' +
        'punching. Checked at start-up; a claim the DHT does not confirm is logged as a warning and the ' +
        'node falls back to firewalled operation. Needs a non-zero port.',
      format: 'bool',
      default: false,
      env: 'GATEWAY_HYPERSWARM_REACHABLE',
    },
    relays: {
      doc:
        'Comma-separated public keys (64 hex) of blind relays (the blind-relay protocol over HyperDHT) ' +
        'the pool retries through when a direct connection fails (hole punching between two NATs). ' +
        'Published to workers in GET /api/gateway. Empty: only the relay this gateway offers, if any.',
      format: 'hex32-list',
      default: [],
      env: 'GATEWAY_HYPERSWARM_RELAYS',
    },
    relayServer: {
      doc:
        'Offer a blind relay on this DHT node (its key is derived from GATEWAY_HYPERSWARM_SEED and ' +
        'published in GET /api/gateway). Useful on a reachable node; other gateways and workers can ' +
        'then relay through it when hole punching fails.',
      format: 'bool',
      default: false,
      env: 'GATEWAY_HYPERSWARM_RELAY_SERVER',
    },
  },
}

/** One leaf of a convict schema, flattened. */
export interface ConfigEntry {
  /** Dotted key, e.g. `proxy.port`. */
  readonly key: string
  readonly env: string | undefined
  readonly doc: string | undefined
  readonly format: unknown
  readonly default: unknown
  readonly sensitive: boolean
  readonly failureCode: ErrorCodeName | undefined
}

/**
 * Flattens a convict schema into its leaves, in declaration order. A node is a leaf when it has
 * a `default`, which is convict's own rule.
 */
export function configEntries<T>(schema: convict.Schema<T>): ConfigEntry[] {
  const entries: ConfigEntry[] = []
  const visit = (node: Record<string, unknown>, prefix: string): void => {
    for (const [name, child] of Object.entries(node)) {
      const key = prefix + name
      if (typeof child !== 'object' || child === null || Array.isArray(child)) {
        entries.push(entry(key, { default: child }))
      } else if ('default' in child) {
        entries.push(entry(key, child as convict.SchemaObj & ConfigEntryExtras))
      } else {
        visit(child as Record<string, unknown>, `${key}.`)
      }
    }
  }
  visit(schema as Record<string, unknown>, '')
  return entries
}

function entry(key: string, leaf: convict.SchemaObj & ConfigEntryExtras): ConfigEntry {
  return {
    key,
    env: leaf.env,
    doc: leaf.doc,
    format: leaf.format,
    default: leaf.default,
    sensitive: leaf.sensitive === true,
    failureCode: leaf.failureCode,
  }
}

/** Log levels accepted by `GATEWAY_LOG_LEVEL` (pino's levels plus `silent`). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number]

/** A DHT bootstrap node, as hyperdht accepts it. */
export interface BootstrapNode {
  readonly host: string
  readonly port: number
}

/** Environment variable naming the optional JSON config file. */
export const CONFIG_FILE_ENV = 'GATEWAY_CONFIG'

/** Minimum length of the registration secret, in bytes (UTF-8). */
export const MIN_SECRET_BYTES = 16

/** Minimum length of the admin API token, in bytes (UTF-8). */
export const MIN_ADMIN_TOKEN_BYTES = 32

/**
 * The validated gateway configuration, shaped exactly like {@link gatewayConfigSchema}.
 * Empty strings mean "not configured"; see each entry's `doc` for what that implies.
 */
export interface GatewayConfig {
  readonly configFile: string
  readonly publicUrl: string
  readonly log: {
    readonly level: LogLevel
  }
  readonly trustedProxies: readonly string[]
  readonly proxy: {
    readonly host: string
    readonly port: number
    readonly maxFrameBytes: number
    readonly maxQueuedMessages: number
    readonly maxBufferedBytes: number
    readonly maxSessionsPerToken: number
    readonly maxSessionsPerIp: number
    readonly maxSessionsPerPubkey: number
    readonly sessionOpensPerIpPerMinute: number
    readonly pubkeyMessagesPerSecond: number
    readonly sessionLeaseMs: number
    readonly maxSubscriptions: number
    readonly messagesPerSecond: number
    readonly messageBurst: number
    readonly tunnelBytesPerSecond: number
    readonly linkWaitMs: number
    readonly pollIntervalMs: number
    readonly legacyPipelineDepth: number
    readonly legacyPipelineOff: readonly string[]
    readonly triggeredPollGapMs: number
    readonly pingIntervalMs: number
    readonly shutdownGraceMs: number
  }
  readonly registrar: {
    readonly host: string
    readonly port: number
    readonly maxSkewSeconds: number
    readonly legacyDelete: boolean
    readonly rateLimitPerMinute: number
    readonly bodyLimitBytes: number
    readonly gatewayKeys: readonly string[]
  }
  readonly pool: {
    readonly joinTopic: boolean
    readonly requestTimeoutMs: number
    readonly healthIntervalMs: number
    readonly healthTimeoutMs: number
    readonly unhealthyAfter: number
    readonly downAfter: number
    readonly openTimeoutMs: number
    readonly probeIntervalMs: number
    readonly probeTimeoutMs: number
    readonly idleTimeoutMs: number
    readonly backoffMinMs: number
    readonly backoffMaxMs: number
  }
  readonly registration: {
    readonly secret: string
    readonly ttl: number
    readonly redisUrl: string
    readonly redisPrefix: string
    readonly workerSecretKey: string
    readonly multiTenant: boolean
  }
  readonly token: {
    readonly defaultTtl: number
    readonly maxTtl: number
  }
  readonly admin: {
    readonly token: string
  }
  readonly hyperswarm: {
    readonly bootstrap: readonly BootstrapNode[]
    readonly host: string
    readonly seed: string
    readonly port: number
    readonly reachable: boolean
    readonly relays: readonly string[]
    readonly relayServer: boolean
  }
}

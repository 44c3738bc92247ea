import { pino } from 'pino'
import type { Logger } from 'pino'
import { Registry } from 'prom-client'
import { issueClientToken } from '../../shared/auth/client-token.js'
import type { GatewayStore } from '../../shared/store/gateway-store.js'
import { MemoryStore } from '../../shared/store/memory-store.js'
import { PeerPool } from '../../shared/swarm/peer-pool.js'
import type { PeerPoolOptions } from '../../shared/swarm/peer-pool.js'
import { ProxyServer } from '../../proxy/proxy-server.js'
import type { ProxyLimits, ProxyServerOptions } from '../../proxy/proxy-server.js'
import type { LocalTestnet } from './testnet.js'

export const SECRET = 'proxy-test-secret-0123456789'

export const TEST_LIMITS: ProxyLimits = {
  maxFrameBytes: 64 * 1024,
  maxQueuedMessages: 32,
  maxBufferedBytes: 1024 * 1024,
  maxSubscriptions: 200,
  maxSessionsPerToken: 8,
  maxSessionsPerIp: 32,
  maxSessionsPerPubkey: 8,
  sessionOpensPerIpPerMinute: 10_000,
  pubkeyMessagesPerSecond: 200,
  sessionLeaseMs: 30_000,
  messagesPerSecond: 200,
  messageBurst: 400,
  // The production default: on a loaded 2-core CI machine a cold first dial on the testnet
  // took 4.5 to 7+ s, and with 5 s here the first sessions of a test closed 1013.
  linkWaitMs: 20_000,
  pollIntervalMs: 100,
  pingIntervalMs: 30_000,
  shutdownGraceMs: 2_000,
}

/** A proxy on 127.0.0.1 with its own pool on the loopback testnet. */
export interface ProxyStack {
  proxy: ProxyServer
  pool: PeerPool
  store: GatewayStore
  registry: Registry
  port: number
  /** Registers a relay served by `peers` for a minute. */
  register(relayKey: string, peers: string[], metadata?: Record<string, unknown>): Promise<void>
  token(relayKey: string, extra?: Record<string, unknown>): string
  url(path: string, token?: string): string
  close(): Promise<void>
}

export async function startProxyStack(
  testnet: LocalTestnet,
  opts: {
    limits?: Partial<ProxyLimits>
    pool?: Partial<PeerPoolOptions>
    store?: GatewayStore
    /** Worker accounts (issue 15): the sealed-secret opener, and the shared secret to use. */
    proxy?: Partial<Pick<ProxyServerOptions, 'secret' | 'workerSecrets'>>
    /** Where the pool and proxy log (default: nowhere). */
    logger?: Logger
  } = {},
): Promise<ProxyStack> {
  const logger = opts.logger ?? pino({ level: 'silent' })
  const registry = new Registry()
  const store = opts.store ?? new MemoryStore()
  const pool = new PeerPool({
    swarm: testnet.createSwarm(),
    logger,
    registry,
    healthIntervalMs: 200,
    healthTimeoutMs: 300,
    unhealthyAfter: 2,
    downAfter: 3,
    backoff: { minMs: 100, maxMs: 1_000 },
    openTimeoutMs: 5_000,
    ...opts.pool,
  })
  await pool.start()
  const proxy = new ProxyServer({
    host: '127.0.0.1',
    port: 0,
    secret: SECRET,
    publicUrl: '',
    trustedProxies: ['127.0.0.1'],
    limits: { ...TEST_LIMITS, ...opts.limits },
    store,
    pool,
    logger,
    registry,
    ...opts.proxy,
  })
  const { port } = await proxy.listen()
  return {
    proxy,
    pool,
    store,
    registry,
    port,
    async register(relayKey, peers, metadata = {}) {
      const now = Date.now()
      await store.putRegistration(
        {
          relayKey,
          peers,
          metadata,
          nonce: null,
          issuedAt: now,
          registeredAt: now,
          expiresAt: now + 60_000,
        },
        60,
      )
    },
    token(relayKey, extra) {
      return issueClientToken(SECRET, {
        relayKey,
        ttlMs: 60_000,
        ...(extra === undefined ? {} : { extra }),
      })
    },
    url(path, token) {
      return `ws://127.0.0.1:${port}/${path}${token === undefined ? '' : `?token=${token}`}`
    },
    async close() {
      await proxy.close()
      await pool.close()
      if (opts.store === undefined) await store.close()
    },
  }
}

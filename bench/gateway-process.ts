import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { issueClientToken } from '../shared/auth/client-token.js'
import type { BootstrapNode } from '../shared/swarm/create-swarm.js'
import { RegistrarClient } from '../shared/worker/registrar-client.js'
import { spawnChild } from './child-process.js'
import type { BenchChild } from './child-process.js'
import { isMemoryReport } from './ipc-messages.js'
import type { MemoryReport } from './ipc-messages.js'
import { scrape } from './metrics-scrape.js'
import type { MetricsSnapshot } from './metrics-scrape.js'
import { rssBytes } from './proc-stats.js'
import { LOOPBACK, bootstrapEnv } from './testnet.js'

/** Options of {@link startGateway}. */
export interface GatewayOptions {
  bootstrap: readonly BootstrapNode[]
  /** Extra GATEWAY_* settings (limits) on top of the loopback ones. */
  env?: Record<string, string>
  /** Run under `--cpu-prof`, writing the profile into this directory on exit. */
  cpuProfileDir?: string
}

/** `npm start` (registrar + proxy in one process) as a child of the bench. */
export interface BenchGateway {
  readonly child: BenchChild
  /** `http://127.0.0.1:<proxy port>`. */
  readonly httpUrl: string
  wsUrl(relayKey: string, token: string): string
  /** Registers a relay through the registrar API, as a worker would. */
  register(relayKey: string, peers: string[]): Promise<void>
  /** A fresh client token for `relayKey`; `n` makes tokens distinct (one per simulated user). */
  token(relayKey: string, n?: number): string
  /** Heap figures right after forced full collections (bench/child-hooks.ts). */
  memory(): Promise<MemoryReport>
  /** The child's resident set size from /proc, bytes. */
  rss(): number
  metrics(): Promise<MetricsSnapshot>
  /** SIGTERM (graceful: sessions closed 1001, profile written), SIGKILL after a grace period. */
  stop(graceMs?: number): Promise<void>
}

const START_ENTRY = new URL('../scripts/start.js', import.meta.url).href
const HOOKS = new URL('./child-hooks.js', import.meta.url).href

export async function startGateway(opts: GatewayOptions): Promise<BenchGateway> {
  const secret = randomBytes(24).toString('hex')
  const nodeArgs = ['--expose-gc', '--import', HOOKS]
  if (opts.cpuProfileDir !== undefined) {
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${opts.cpuProfileDir}`)
  }
  const child = spawnChild({
    name: 'gateway',
    entry: START_ENTRY,
    nodeArgs,
    env: {
      // The loopback rules: the testnet's bootstrap, a DHT bound to 127.0.0.1, servers on
      // 127.0.0.1 with free ports.
      GATEWAY_HYPERSWARM_BOOTSTRAP: bootstrapEnv(opts.bootstrap),
      GATEWAY_HYPERSWARM_HOST: LOOPBACK,
      GATEWAY_PROXY_HOST: LOOPBACK,
      GATEWAY_PROXY_PORT: '0',
      GATEWAY_REGISTRAR_HOST: LOOPBACK,
      GATEWAY_REGISTRAR_PORT: '0',
      GATEWAY_REGISTRATION_SECRET: secret,
      GATEWAY_LOG_LEVEL: 'info',
      // The bench's clients stand for Caddy's: each idle session carries its own
      // X-Forwarded-For address, believed only from a trusted proxy (default: none).
      GATEWAY_TRUSTED_PROXIES: LOOPBACK,
      // Thousands of sessions open within seconds: per-IP open rates are not what is measured.
      GATEWAY_PROXY_SESSION_OPENS_PER_IP_PER_MINUTE: '1000000',
      ...opts.env,
    },
  })
  let httpUrl: string
  let registrarUrl: string
  try {
    // The entry points' stable start-up lines (tests/helpers/gateway-process.ts reads them too).
    ;[registrarUrl, httpUrl] = (await Promise.all(
      ['registrar', 'proxy'].map(async (what) => {
        const prefix = `${what} listening on http://`
        const line = await child.waitForLine(
          (l) => typeof l.msg === 'string' && l.msg.startsWith(prefix),
        )
        return (line.msg as string).slice(`${what} listening on `.length).replace(/\/$/, '')
      }),
    )) as [string, string]
    for (const url of [httpUrl, registrarUrl]) {
      if (!url.startsWith(`http://${LOOPBACK}:`)) throw new Error(`gateway not on loopback: ${url}`)
    }
  } catch (err) {
    await child.stop('SIGKILL')
    throw err
  }
  const registrar = new RegistrarClient({
    registrarUrl,
    secret,
    logger: pino({ level: 'silent' }),
  })
  const wsBase = httpUrl.replace(/^http/, 'ws')
  return {
    child,
    httpUrl,
    wsUrl: (relayKey, token) => `${wsBase}/${relayKey}?token=${token}`,
    async register(relayKey, peers) {
      await registrar.register({ relayKey, peers })
    },
    token: (relayKey, n) =>
      issueClientToken(secret, {
        relayKey,
        ttlMs: 60 * 60_000,
        ...(n === undefined ? {} : { extra: { n } }),
      }),
    async memory() {
      const report = child.waitForMessage(isMemoryReport, 30_000)
      child.send({ type: 'gc' })
      return report
    },
    rss: () => rssBytes(child.pid),
    metrics: () => scrape(httpUrl),
    async stop(graceMs = 15_000) {
      await registrar.close().catch(() => undefined)
      await child.stop('SIGTERM', graceMs)
    },
  }
}

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { RateLimiterMemory } from 'rate-limiter-flexible'
import { RegistrarServer } from '../../registrar/registrar-server.js'
import type { RegistrarAddress, RegistrarServerOptions } from '../../registrar/registrar-server.js'
import { MemoryStore } from '../../shared/store/memory-store.js'
import { LOOPBACK, startCaddy } from './caddy.js'
import type { TestCaddy } from './caddy.js'
import { startCli, startCoreRelay } from './cli-process.js'
import type { CliChild, CoreRelay } from './cli-process.js'
import { SECRET, startProxyStack } from './proxy-stack.js'
import type { ProxyStack } from './proxy-stack.js'
import { BASE_OPTIONS } from './registrar-harness.js'
import { startTestnet } from './testnet.js'
import type { LocalTestnet } from './testnet.js'

/** Options of {@link startExposeStack}. */
export interface ExposeStackOptions {
  /** Prefix of the temporary directory (holds `secret`, and whatever `prepare` writes). */
  dirPrefix: string
  prepare?: (dir: string) => Promise<void> | void
  /** Registrar settings beyond the shared secret, once the proxy is up (its pool key). */
  registrar?: (stack: ProxyStack) => Partial<RegistrarServerOptions>
  /** Runs once the proxy is up (listeners, a reporter); what it returns runs at close. */
  withProxy?: (stack: ProxyStack, store: MemoryStore) => (() => unknown) | void
  /** `expose` arguments beyond the relay, gateway, secret, relay key and loopback swarm. */
  args?: (dir: string) => string[]
}

/** A whole gateway behind Caddy on loopback, and `hypertuna-gateway expose` publishing to it. */
export interface ExposeStack {
  readonly testnet: LocalTestnet
  readonly store: MemoryStore
  readonly stack: ProxyStack
  readonly api: RegistrarAddress
  readonly caddy: TestCaddy
  readonly relay: CoreRelay
  readonly expose: CliChild
  readonly dir: string
  readonly relayKey: string
  /** The `registered` line expose printed. */
  readonly registered: Record<string, unknown>
  /** Stops everything in reverse order; expose is killed, not asked to unregister. */
  close(): Promise<void>
}

/**
 * Testnet, MemoryStore, proxy, registrar, Caddy, a @nostr-relay/core relay, and `expose` on
 * it, started in that order; resolves once expose has registered. If a step fails, what
 * already started is stopped before the error is thrown.
 */
export async function startExposeStack(opts: ExposeStackOptions): Promise<ExposeStack> {
  const closers: Array<() => unknown> = []
  const close = async (): Promise<void> => {
    for (const closer of closers.splice(0).reverse()) await closer()
  }
  try {
    const dir = mkdtempSync(join(tmpdir(), opts.dirPrefix))
    closers.push(() => rmSync(dir, { recursive: true, force: true }))
    writeFileSync(join(dir, 'secret'), `${SECRET}\n`)
    await opts.prepare?.(dir)
    const testnet = await startTestnet()
    closers.push(() => testnet.destroy())
    const store = new MemoryStore()
    closers.push(() => store.close())
    const stack = await startProxyStack(testnet, { store })
    closers.push(() => stack.close())
    const release = opts.withProxy?.(stack, store)
    if (release !== undefined) closers.push(release)
    const registrar = new RegistrarServer(
      { ...BASE_OPTIONS, secret: SECRET, ...opts.registrar?.(stack) },
      {
        logger: pino({ level: 'silent' }),
        registry: new Registry(),
        store,
        rateLimiter: new RateLimiterMemory({ points: 1_000, duration: 60 }),
      },
    )
    closers.push(() => registrar.close())
    const api = await registrar.listen()
    const caddy = await startCaddy({
      env: {
        GATEWAY_PROXY_UPSTREAMS: `${LOOPBACK}:${stack.port}`,
        GATEWAY_REGISTRAR_UPSTREAMS: `${LOOPBACK}:${api.port}`,
      },
    })
    closers.push(() => caddy.stop())
    const relay = await startCoreRelay()
    closers.push(() => relay.stop())
    const relayKey = randomBytes(32).toString('hex')
    const bootstrap = testnet.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
    const expose = startCli(
      [
        'expose',
        relay.url,
        '--gateway',
        caddy.origin,
        '--secret-file',
        join(dir, 'secret'),
        '--relay-key',
        relayKey,
        '--bootstrap',
        bootstrap,
        '--host',
        LOOPBACK,
        '--json',
        ...(opts.args?.(dir) ?? []),
      ],
      { NODE_EXTRA_CA_CERTS: caddy.caPath },
    )
    closers.push(() => expose.stop('SIGKILL'))
    const registered = await expose.waitFor((l) => l.event === 'registered', 60_000)
    return { testnet, store, stack, api, caddy, relay, expose, dir, relayKey, registered, close }
  } catch (err) {
    await close()
    throw err
  }
}

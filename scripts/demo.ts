// `npm run demo`: the whole gateway on this machine, on 127.0.0.1 only. A private DHT testnet,
// the registrar and proxy, Caddy with its internal CA in front (when installed), and an example
// worker whose relay is registered, given a token and checked end to end. Runs until Ctrl-C.
//
// Environment (optional): DEMO_CADDY_BIN (caddy binary, default `caddy`), DEMO_LOG_LEVEL
// (pino level of the gateway's logs on stderr, default warn). GATEWAY_* variables are ignored.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import type { LevelWithSilent, Logger } from 'pino'
import { createLogger } from '../shared/log/create-logger.js'
import { RegistrarClient } from '../shared/worker/registrar-client.js'
import { caddyVersion, startCaddyEdge } from './demo/caddy-edge.js'
import type { CaddyEdge } from './demo/caddy-edge.js'
import { startGateway } from './demo/gateway.js'
import { LOOPBACK, startLoopbackTestnet } from './demo/loopback-testnet.js'
import { selfCheck } from './demo/self-check.js'
import { Teardown } from './demo/teardown.js'
import { DRIVE_FILE, DRIVE_TEXT, startDemoWorker } from './demo/worker.js'

/** The relay's alias: clients connect to /demo rather than /<64 hex>. */
const RELAY_ALIAS = 'demo'
const TOKEN_TTL_SECONDS = 24 * 3600
// Longer than the proxy's shutdown grace (10 s) plus Caddy's stop (5 s at most).
const FORCED_EXIT_MS = 25_000
/** The repository root (this file is compiled to dist/scripts/). */
const REPO = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '')

// Read by a one-off `node -e` in the repository, so nostr-tools and ws come from its
// node_modules. Prints the content of every note, then closes at EOSE.
const CLIENT_SNIPPET =
  'import { Relay, useWebSocketImplementation } from "nostr-tools/relay"; ' +
  'import WebSocket from "ws"; useWebSocketImplementation(WebSocket); ' +
  'const relay = await Relay.connect(process.argv[1]); ' +
  'relay.subscribe([{ kinds: [1] }], { onevent: (e) => console.log(e.content), ' +
  'oneose: () => relay.close() })'

interface Settings {
  caddyBin: string
  logLevel: LevelWithSilent
}

interface Context {
  settings: Settings
  logger: Logger
  teardown: Teardown
  signal: AbortSignal
}

function out(line = ''): void {
  process.stdout.write(`${line}\n`)
}

function step(mark: 'ok' | '--', name: string, detail: string): void {
  out(`  ${mark}  ${name.padEnd(12)} ${detail}`)
}

function short(hex: string): string {
  return `${hex.slice(0, 12)}…`
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

function readSettings(env: NodeJS.ProcessEnv): Settings {
  const logLevel = env.DEMO_LOG_LEVEL ?? 'warn'
  if (!(logLevel in pino.levels.values) && logLevel !== 'silent') {
    process.stderr.write(`demo: DEMO_LOG_LEVEL must be a pino level, not ${logLevel}\n`)
    process.exit(1)
  }
  return { caddyBin: env.DEMO_CADDY_BIN ?? 'caddy', logLevel: logLevel as LevelWithSilent }
}

async function start(ctx: Context): Promise<void> {
  const { logger, teardown, signal } = ctx
  out('Hypertuna gateway demo: every part on 127.0.0.1, nothing on the public DHT.')
  out()
  const dir = mkdtempSync(join(tmpdir(), 'hypertuna-demo-'))
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true })
  teardown.add('temporary directory', removeDir)
  // Also on a forced exit, which skips the teardown.
  process.once('exit', removeDir)

  const testnet = await startLoopbackTestnet()
  teardown.add('DHT testnet', () => testnet.destroy())
  step('ok', 'DHT testnet', `${testnet.size} HyperDHT nodes on ${LOOPBACK}`)
  signal.throwIfAborted()

  // A fresh shared secret per run: workers and the gateway sign with it (docs/registrar.md).
  const secret = randomBytes(32).toString('hex')
  const gateway = await startGateway({ bootstrap: testnet.bootstrap, secret, logger })
  teardown.add('registrar and proxy', () => gateway.stop())
  step('ok', 'registrar', `${gateway.registrarUrl} (shared secret generated for this run)`)
  step('ok', 'proxy', `http://${LOOPBACK}:${gateway.proxyPort}`)
  signal.throwIfAborted()

  const edge = await startEdge(ctx, dir, gateway.proxyPort, gateway.registrarPort)
  signal.throwIfAborted()

  const worker = await startDemoWorker({ bootstrap: testnet.bootstrap, logger })
  teardown.add('worker', () => worker.stop())
  step('ok', 'worker', `swarm key ${short(worker.publicKey)} relay key ${short(worker.relayKey)}`)
  signal.throwIfAborted()

  // The worker calls the registrar directly, not through Caddy: RegistrarClient uses the global
  // fetch, which trusts only the roots Node loaded at start-up (NODE_EXTRA_CA_CERTS), not the CA
  // Caddy has just made. tests/integration/edge-e2e.test.ts covers /api through Caddy.
  const registrar = new RegistrarClient({ registrarUrl: gateway.registrarUrl, secret, logger })
  teardown.add('registration', async () => {
    try {
      await registrar.unregister(worker.relayKey)
    } finally {
      await registrar.close()
    }
  })
  await registrar.register({
    relayKey: worker.relayKey,
    peers: [worker.publicKey],
    metadata: { name: 'Hypertuna demo relay', gatewayPath: RELAY_ALIAS },
  })
  registrar.startRenewal()
  const grant = await registrar.issueToken(worker.relayKey, {
    via: 'registrar',
    ttlSeconds: TOKEN_TTL_SECONDS,
  })
  step('ok', 'registered', `relay /${RELAY_ALIAS} with POST /api/relays; token valid for 24 h`)
  signal.throwIfAborted()

  const origin = edge?.origin ?? `http://${LOOPBACK}:${gateway.proxyPort}`
  const relayUrl = registrar.shareUrl(origin, RELAY_ALIAS, grant.token)
  const driveUrl = `${origin}/drive/${worker.relayKey}/${DRIVE_FILE}`
  const check = await selfCheck({ relayUrl, driveUrl, ca: edge?.ca ?? null, signal })
  step(
    'ok',
    'self-check',
    `published note ${short(check.event.id)} over ${new URL(relayUrl).protocol}// ` +
      `and read it back: "${check.event.content}"`,
  )
  if (check.drive.toString() !== DRIVE_TEXT) throw new Error('the /drive file came back altered')
  step('ok', 'drive file', `GET /drive/…/${DRIVE_FILE}: ${check.drive.length} bytes, intact`)
  printUsage(relayUrl, driveUrl, edge)
}

/** Caddy in front of the proxy and registrar, or null (with a hint) when it is not installed. */
async function startEdge(
  ctx: Context,
  dir: string,
  proxyPort: number,
  registrarPort: number,
): Promise<CaddyEdge | null> {
  const bin = ctx.settings.caddyBin
  const version = await caddyVersion(bin)
  if (version === null) {
    const which = bin === 'caddy' ? 'caddy is not installed' : `no caddy at ${bin}`
    step('--', 'caddy', `${which}: running without TLS (plain ws://, straight to the proxy)`)
    out(`                   For the wss:// edge, install it (apt-get install caddy) and rerun.`)
    return null
  }
  const edge = await startCaddyEdge({
    bin,
    dir,
    proxyPort,
    registrarPort,
    signal: ctx.signal,
    onUnexpectedExit: (code, signal) =>
      process.stderr.write(`demo: caddy exited unexpectedly (${signal ?? code}); see its log\n`),
  })
  ctx.teardown.add('caddy', () => edge.stop())
  step('ok', 'caddy', `${edge.origin} (Caddy ${version}, internal CA, admin API off)`)
  return edge
}

function printUsage(relayUrl: string, driveUrl: string, edge: CaddyEdge | null): void {
  out()
  out(`relay url: ${relayUrl}`)
  if (edge !== null) out(`ca certificate: ${edge.caPath}`)
  out()
  const trust = edge === null ? '' : `NODE_EXTRA_CA_CERTS=${edge.caPath} `
  out(`Read the relay with nostr-tools, from ${REPO} in another terminal:`)
  out(`  ${trust}node --input-type=module -e '${CLIENT_SNIPPET}' '${relayUrl}'`)
  out(`Fetch the worker's file through the gateway:`)
  out(`  curl ${edge === null ? '' : `--cacert ${edge.caPath} `}${driveUrl}`)
  if (edge !== null) out(`Caddy's access log, tokens redacted: ${edge.accessLogPath}`)
  out()
  out('Running. Press Ctrl-C to stop.')
}

/** Resolves once everything written to stdout so far has been handed to the OS. */
function flushStdout(): Promise<void> {
  return new Promise((resolve) => process.stdout.write('', () => resolve()))
}

async function main(): Promise<void> {
  const settings = readSettings(process.env)
  // stdout is the demo's own output; the gateway's logs go to stderr, warnings only by default.
  const logger = createLogger({
    level: settings.logLevel,
    name: 'demo',
    destination: pino.destination(2),
  })
  const teardown = new Teardown()
  const abort = new AbortController()
  let startup: Promise<void> = Promise.resolve()
  let stopping: Promise<void> | null = null

  const shutdown = (reason: string, exitCode: number): Promise<void> => {
    stopping ??= (async () => {
      abort.abort()
      setTimeout(() => {
        process.stderr.write(`demo: not stopped within ${FORCED_EXIT_MS / 1000} s; exiting\n`)
        process.exit(1)
      }, FORCED_EXIT_MS).unref()
      out()
      out(`Stopping (${reason})…`)
      // A part still starting lands on the teardown first, so it is stopped too.
      await startup.catch(() => undefined)
      const ok = await teardown.run((name, err) =>
        process.stderr.write(`demo: could not stop the ${name}: ${message(err)}\n`),
      )
      out(ok ? 'Stopped.' : 'Stopped, with errors.')
      await flushStdout()
      process.exit(ok ? exitCode : 1)
    })()
    return stopping
  }
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // `on`, not `once`: `npm run demo` forwards the terminal's Ctrl-C, so one keypress arrives
    // twice, and the second must not kill the demo halfway through stopping.
    process.on(signal, () => void shutdown(signal, 0))
  }

  startup = start({ settings, logger, teardown, signal: abort.signal })
  try {
    await startup
  } catch (err) {
    // Stopped by a signal while starting: shutdown() is already on it.
    if (abort.signal.aborted) return
    process.stderr.write(`demo: could not start: ${message(err)}\n`)
    await shutdown('start-up failed', 1)
  }
}

void main()

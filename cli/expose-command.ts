import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import type { BootstrapNode } from '../shared/config/gateway-config.js'
import { usageError } from './cli-error.js'
import type { Command, CommandContext } from './command.js'
import { intFlag, stringFlag } from './command.js'
import { checkShareUrl } from './check-share-url.js'
import { ExposeWorker } from './expose-worker.js'
import { TUNNEL_HELP, tunnelPlan } from './expose-tunnel.js'
import { gatewayUrl, readSecretFile } from './gateway-options.js'
import { formatStatus, liveStatus } from './status-line.js'
import type { LiveStatus } from './status-line.js'

const HEX64 = /^[0-9a-f]{64}$/
const HOST_PORT = /^([A-Za-z0-9.-]+):(\d{1,5})$/

/** `hypertuna-gateway expose <ws://local-relay>`. */
export const exposeCommand: Command = {
  name: 'expose',
  summary: 'Put a relay you run (any ws:// Nostr relay) online through a Hypertuna gateway.',
  help: `Usage:
  hypertuna-gateway expose <ws://local-relay> --gateway <url> --secret-file <file> [options]

Runs a worker for the local relay (one WebSocket to it per gateway client), registers it with
the gateway, keeps the registration alive, prints the public wss:// share URL and checks it end
to end, then shows a live status line. Ctrl-C (SIGINT) or SIGTERM unregisters and exits.
Exit codes: 0 stopped cleanly, 2 bad usage, 3 gateway unreachable or refused, 4 local relay
unreachable.

Options:
  --gateway <url>         the gateway's public base URL, e.g. https://gateway.example.com
  --secret-file <file>    file holding the gateway's registration secret, or with
                          --worker-id the worker account's secret
  --worker-id <id>        sign as this worker account (hypertuna-gateway worker create)
  --relay-key <hex>       64-hex relay key (default: a new random one)
  --path <alias>          gatewayPath alias clients use instead of the key, e.g. myrelay
  --name <text>           relay name (default: the local relay's NIP-11 name)
  --token-ttl <seconds>   lifetime of the token in the share URL (default: the gateway's)
  --seed-file <file>      64-hex seed for a stable worker key
  --bootstrap <h:p,...>   DHT bootstrap nodes (private networks, tests)
  --host <address>        address the DHT binds to (e.g. 127.0.0.1)
${TUNNEL_HELP}
  --dial-out              also dial out to the gateway nodes it publishes (GET /api/gateway),
                          for workers whose NAT the gateway cannot reach
  --check-timeout <ms>    end-to-end check deadline (default 30000)
  --no-check              skip the end-to-end check`,
  options: {
    gateway: { type: 'string' },
    'secret-file': { type: 'string' },
    'worker-id': { type: 'string' },
    'relay-key': { type: 'string' },
    path: { type: 'string' },
    name: { type: 'string' },
    'token-ttl': { type: 'string' },
    'seed-file': { type: 'string' },
    bootstrap: { type: 'string' },
    host: { type: 'string' },
    mode: { type: 'string', default: 'direct' },
    http: { type: 'string' },
    files: { type: 'string' },
    'check-timeout': { type: 'string' },
    'no-check': { type: 'boolean', default: false },
    'dial-out': { type: 'boolean', default: false },
  },
  run: expose,
}

async function expose(context: CommandContext): Promise<void> {
  const { values, out } = context
  const [relayUrl, ...rest] = context.positionals
  if (relayUrl === undefined || rest.length > 0)
    throw usageError('expose: give one <ws://local-relay>')
  if (!/^wss?:\/\//.test(relayUrl))
    throw usageError('expose: the local relay must be a ws:// or wss:// URL')
  const tunnel = tunnelPlan(values, relayUrl)
  const gateway = gatewayUrl(values, 'expose')
  const secretFile = stringFlag(values, 'secret-file')
  if (secretFile === undefined) throw usageError('expose: --secret-file is required')
  const workerId = stringFlag(values, 'worker-id')
  if (workerId !== undefined && !/^[0-9a-f]{32}$/.test(workerId)) {
    throw usageError('expose: --worker-id must be 32 lowercase hex characters')
  }
  const secret = readSecretFile(
    secretFile,
    workerId === undefined ? 'the registration secret' : 'the worker secret',
  )
  const relayKey = (
    stringFlag(values, 'relay-key') ?? randomBytes(32).toString('hex')
  ).toLowerCase()
  if (!HEX64.test(relayKey)) throw usageError('expose: --relay-key must be 64 hex characters')
  const seedFile = stringFlag(values, 'seed-file')
  const seedHex = seedFile === undefined ? undefined : readSecretFile(seedFile, 'the worker seed')
  if (seedHex !== undefined && !HEX64.test(seedHex.toLowerCase())) {
    throw usageError('expose: the seed file must hold 64 hex characters')
  }
  const path = stringFlag(values, 'path')
  const name = stringFlag(values, 'name')
  const tokenTtl = intFlag(values, 'token-ttl')
  const host = stringFlag(values, 'host')
  const checkTimeout = intFlag(values, 'check-timeout') ?? 30_000

  const worker = new ExposeWorker({
    relayUrl,
    gateway,
    secret,
    ...(workerId === undefined ? {} : { workerId }),
    relayKey,
    ...(path === undefined ? {} : { path }),
    ...(name === undefined ? {} : { name }),
    ...(tokenTtl === undefined ? {} : { tokenTtlSeconds: tokenTtl }),
    bootstrap: parseBootstrap(stringFlag(values, 'bootstrap')),
    ...(host === undefined ? {} : { host }),
    ...(seedHex === undefined ? {} : { seed: Buffer.from(seedHex, 'hex') }),
    // The worker's own log stays quiet: the CLI says what matters in its own words.
    logger: pino({ level: context.env.HYPERTUNA_LOG_LEVEL ?? 'silent' }, pino.destination(2)),
    progress: (line) => out.progress(line),
    dialOut: values['dial-out'] === true,
    ...(tunnel === null ? {} : { tunnel }),
  })
  let stopping: Promise<void> | null = null
  const stop = (signal: string): Promise<void> => {
    stopping ??= (async () => {
      out.progress(`${signal}: unregistering ${relayKey} ...`)
      const { unregistered } = await worker.close()
      out.result(
        { event: 'stopped', signal, relayKey, unregistered },
        unregistered ? 'unregistered; bye' : 'stopped (the registration lapses by itself)',
      )
    })()
    return stopping
  }
  void context.stopSignal.then((signal) => stop(signal))

  try {
    const exposed = await worker.start()
    out.result(
      {
        event: 'registered',
        relayKey: exposed.relayKey,
        workerKey: exposed.workerKey,
        publicUrl: exposed.publicUrl,
        shareUrl: exposed.shareUrl,
        expiresAt: exposed.token.expiresAt,
      },
      `share URL: ${exposed.shareUrl}`,
    )
    if (values['no-check'] !== true) {
      out.progress('checking the share URL end to end (gateway -> DHT -> worker -> relay) ...')
      const ms = await checkShareUrl(exposed.shareUrl, checkTimeout).catch((err: unknown) => {
        out.error('check_failed', `end-to-end check failed: ${(err as Error).message}`)
        return null
      })
      if (ms !== null)
        out.result({ event: 'checked', ok: true, ms }, `end-to-end check ok (${ms} ms)`)
    }
  } catch (err) {
    await worker.close()
    throw err
  }
  await showStatus(context, worker, () => stopping !== null)
  await stopping
}

// Redrawn in place on a terminal; elsewhere one plain line (or JSON line) per change.
async function showStatus(
  context: CommandContext,
  worker: ExposeWorker,
  stopped: () => boolean,
): Promise<void> {
  const { out } = context
  let registration: LiveStatus['registration'] = 'ok'
  const tunnelled = worker.tunnelMode
  worker.client.on('renewal-failed', () => (registration = 'failing'))
  worker.client.on('renewed', () => (registration = 'ok'))
  let last = ''
  const draw = () => {
    const status = liveStatus(
      worker.backend.stats,
      worker.gatewayLinks,
      registration,
      tunnelled ? worker.tunnels : undefined,
    )
    const text = formatStatus(status)
    if (text === last) return
    last = text
    if (out.json) out.result({ event: 'status', ...status }, text)
    else if (out.interactive) out.write(`\r\x1b[K${text}`)
    else out.result(null, text)
  }
  draw()
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (stopped()) {
        clearInterval(timer)
        if (out.interactive) out.write('\n')
        resolve()
        return
      }
      draw()
    }, 1_000)
  })
}

function parseBootstrap(text: string | undefined): BootstrapNode[] {
  if (text === undefined || text === '') return []
  return text.split(',').map((entry) => {
    const match = HOST_PORT.exec(entry.trim())
    const port = Number(match?.[2])
    if (match === null || port < 1 || port > 65535) {
      throw usageError(`expose: --bootstrap entry "${entry}" is not host:port`)
    }
    return { host: match[1] as string, port }
  })
}

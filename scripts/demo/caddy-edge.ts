import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import { fileURLToPath } from 'node:url'
import { LOOPBACK } from './loopback-testnet.js'

/** The repository's Caddyfile (this file is compiled to dist/scripts/demo/). */
export const CADDYFILE = fileURLToPath(new URL('../../../Caddyfile', import.meta.url))

/** The site name: what the internal certificate is issued for and what clients dial. */
export const EDGE_DOMAIN = 'localhost'

const START_TIMEOUT_MS = 15_000
const STOP_TIMEOUT_MS = 5_000
const COMMAND_TIMEOUT_MS = 15_000
const PORT_ATTEMPTS = 5

/** A `caddy run` of the repository Caddyfile on loopback, with its internal CA. */
export interface CaddyEdge {
  /** `https://localhost:<port>` */
  readonly origin: string
  readonly httpsPort: number
  /** Root certificate clients must trust, and its PEM. */
  readonly caPath: string
  readonly ca: string
  /** Caddy's JSON access log (tokens redacted by the Caddyfile) and its own log. */
  readonly accessLogPath: string
  readonly serverLogPath: string
  /** SIGTERM, then SIGKILL after 5 s; resolves once Caddy has exited. Idempotent. */
  stop(): Promise<void>
}

/** Options of {@link startCaddyEdge}. */
export interface CaddyEdgeOptions {
  /** The caddy binary (a name on PATH or a path). */
  bin: string
  /** Directory for Caddy's home, data (its CA) and logs; the caller removes it. */
  dir: string
  proxyPort: number
  registrarPort: number
  /** Aborting stops a Caddy that is still starting. */
  signal: AbortSignal
  /** Called when Caddy exits on its own once serving (not after {@link CaddyEdge.stop}). */
  onUnexpectedExit?: (code: number | null, signal: NodeJS.Signals | null) => void
}

/** The installed Caddy's version, or null when `bin` is not installed. */
export async function caddyVersion(bin: string): Promise<string | null> {
  try {
    const result = await runCaddy(bin, ['version'], { PATH: pathVariable() })
    return result.code === 0 ? (result.stdout.trim().split(/\s/)[0] ?? '') : null
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

/**
 * Runs the repository Caddyfile in loopback mode (`CADDY_EDGE=loopback`: `tls internal` and
 * `bind 127.0.0.1`), admin API off, on free high ports, in front of the given proxy and
 * registrar. Resolves once a TLS handshake verifies against Caddy's own root certificate.
 */
export async function startCaddyEdge(options: CaddyEdgeOptions): Promise<CaddyEdge> {
  const home = join(options.dir, 'caddy')
  for (let attempt = 1; ; attempt++) {
    const httpsPort = await freePort()
    const httpPort = await freePort()
    const vars: Record<string, string> = {
      GATEWAY_DOMAIN: EDGE_DOMAIN,
      GATEWAY_ACME_EMAIL: 'demo@example.invalid',
      CADDY_EDGE: 'loopback',
      CADDY_ADMIN: 'off',
      CADDY_HTTP_PORT: String(httpPort),
      CADDY_HTTPS_PORT: String(httpsPort),
      GATEWAY_PROXY_UPSTREAMS: `${LOOPBACK}:${options.proxyPort}`,
      GATEWAY_REGISTRAR_UPSTREAMS: `${LOOPBACK}:${options.registrarPort}`,
    }
    await assertLoopbackOnly(options.bin, isolatedEnv(home, vars))
    try {
      return await launch(options, home, httpsPort, vars)
    } catch (err) {
      // A port freePort() saw free can be taken before Caddy binds it: try others.
      if (!(err instanceof PortInUseError) || attempt >= PORT_ATTEMPTS) throw err
    }
  }
}

class PortInUseError extends Error {}

// Every Caddy started here and not yet exited: killed if this process exits first (a crash),
// so no Caddy outlives the demo.
const live = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

async function launch(
  options: CaddyEdgeOptions,
  home: string,
  httpsPort: number,
  vars: Record<string, string>,
): Promise<CaddyEdge> {
  const env = isolatedEnv(home, vars)
  const caPath = join(home, 'data', 'caddy', 'pki', 'authorities', 'local', 'root.crt')
  const accessLogPath = join(home, 'access.log')
  const serverLogPath = join(home, 'caddy.log')
  // Logs go straight to files: nothing to drain, and the user can read them while it runs.
  const stdout = openSync(accessLogPath, 'w')
  const stderr = openSync(serverLogPath, 'w')
  let child: ChildProcess
  try {
    child = spawn(options.bin, ['run', '--adapter', 'caddyfile', '--config', CADDYFILE], {
      cwd: home,
      env,
      stdio: ['ignore', stdout, stderr],
      // Its own process group: a Ctrl-C in the terminal reaches the demo only, which then
      // stops Caddy after the worker and before the proxy (reverse order of start).
      detached: true,
    })
  } finally {
    closeSync(stdout)
    closeSync(stderr)
  }
  live.add(child)
  child.once('exit', () => live.delete(child))
  // Spawn failures are reported by waitUntilServing; a later one (a failed kill) must not
  // crash the demo.
  child.on('error', () => undefined)
  let stopped: Promise<void> | null = null
  const stop = (): Promise<void> => (stopped ??= terminate(child))

  try {
    const ca = await waitUntilServing(child, httpsPort, caPath, serverLogPath, options.signal)
    child.once('exit', (code, signal) => {
      if (stopped === null) options.onUnexpectedExit?.(code, signal)
    })
    return {
      origin: `https://${EDGE_DOMAIN}:${httpsPort}`,
      httpsPort,
      caPath,
      ca,
      accessLogPath,
      serverLogPath,
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}

/**
 * Adapts the Caddyfile with the same variables first and refuses to run a configuration that
 * would listen anywhere but 127.0.0.1 or keep its admin API, whatever an edit to it does.
 */
async function assertLoopbackOnly(bin: string, env: Record<string, string>): Promise<void> {
  const adapted = await runCaddy(
    bin,
    ['adapt', '--adapter', 'caddyfile', '--config', CADDYFILE],
    env,
  )
  if (adapted.code !== 0) throw new Error(`caddy adapt failed:\n${adapted.stderr.slice(-2000)}`)
  const json = JSON.parse(adapted.stdout) as {
    admin?: { disabled?: boolean }
    apps?: { http?: { servers?: Record<string, { listen?: string[] }> } }
  }
  const listens = Object.values(json.apps?.http?.servers ?? {}).flatMap((s) => s.listen ?? [])
  const elsewhere = listens.filter((address) => !address.startsWith(`${LOOPBACK}:`))
  if (listens.length === 0 || elsewhere.length > 0 || json.admin?.disabled !== true) {
    throw new Error(
      `refusing to start caddy: it would listen on ${JSON.stringify(listens)} with its admin ` +
        `API ${json.admin?.disabled === true ? 'off' : 'on'} (the demo needs 127.0.0.1, admin off)`,
    )
  }
}

async function waitUntilServing(
  child: ChildProcess,
  port: number,
  caPath: string,
  serverLogPath: string,
  signal: AbortSignal,
): Promise<string> {
  let failure: Error | null = null
  const onError = (err: Error): void => {
    failure = err
  }
  const onExit = (code: number | null): void => {
    const log = readFileSync(serverLogPath, 'utf8')
    failure = /address already in use/i.test(log)
      ? new PortInUseError(`port ${port} is in use`)
      : new Error(`caddy exited (${code}) before serving:\n${log.slice(-2000)}`)
  }
  child.once('error', onError)
  child.once('exit', onExit)
  try {
    const deadline = Date.now() + START_TIMEOUT_MS
    let lastError = 'no attempt yet'
    // Caddy has no readiness signal once its admin API is off: poll a TLS handshake, with a
    // growing pause, until its internal CA has issued the site certificate.
    for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
      signal.throwIfAborted()
      if (failure !== null) throw failure
      if (Date.now() > deadline) {
        throw new Error(
          `caddy not serving on port ${port} within ${START_TIMEOUT_MS} ms (${lastError})`,
        )
      }
      try {
        const ca = readFileSync(caPath, 'utf8')
        await handshake(port, ca)
        return ca
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err)
      }
      await new Promise((resolve) => setTimeout(resolve, delay))
    }
  } finally {
    child.off('error', onError)
    child.off('exit', onExit)
  }
}

function handshake(port: number, ca: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: LOOPBACK, port, servername: EDGE_DOMAIN, ca, timeout: 2_000 })
    socket.once('secureConnect', () => {
      socket.destroy()
      resolve()
    })
    socket.once('timeout', () => socket.destroy(new Error('TLS handshake timed out')))
    socket.once('error', reject)
  })
}

function terminate(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
    live.delete(child)
    return Promise.resolve()
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

interface CommandResult {
  code: number | null
  stdout: string
  stderr: string
}

/** One short caddy command with exactly `env`. Rejects when `bin` cannot be run. */
function runCaddy(
  bin: string,
  args: string[],
  env: Record<string, string>,
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: COMMAND_TIMEOUT_MS,
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** PATH plus `vars`, with HOME and the XDG directories under `home` (created here). */
function isolatedEnv(home: string, vars: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {
    PATH: pathVariable(),
    HOME: home,
    XDG_DATA_HOME: join(home, 'data'),
    XDG_CONFIG_HOME: join(home, 'config'),
    ...vars,
  }
  mkdirSync(join(home, 'data'), { recursive: true })
  mkdirSync(join(home, 'config'), { recursive: true })
  return env
}

function pathVariable(): string {
  return process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, LOOPBACK, () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import type { LookupAddress, LookupOptions } from 'node:dns'
import { request as httpsRequest } from 'node:https'
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import { fileURLToPath } from 'node:url'
import { freePort } from './free-port.js'
import { createLogSink } from './log-sink.js'
import type { LogSink } from './log-sink.js'

/** The repository's Caddyfile (this file is compiled to dist/tests/helpers/). */
export const CADDYFILE = fileURLToPath(new URL('../../../Caddyfile', import.meta.url))

/** Loopback only, like every server the tests start. */
export const LOOPBACK = '127.0.0.1'

/** Site name the test Caddy serves; clients reach it through {@link loopbackLookup}. */
export const TEST_DOMAIN = 'localhost'

const BINARY = 'caddy'
const NOT_FOUND = 'caddy not found: apt-get install caddy'
const START_TIMEOUT_MS = 15_000
const EXIT_TIMEOUT_MS = 5_000
const COMMAND_TIMEOUT_MS = 15_000

/**
 * Variables the Caddyfile reads that select the test edge: loopback listeners with certificates
 * from Caddy's internal CA and the admin API off. Ports and upstreams come on top.
 */
export const LOOPBACK_EDGE_ENV: Readonly<Record<string, string>> = {
  GATEWAY_DOMAIN: TEST_DOMAIN,
  GATEWAY_ACME_EMAIL: 'tests@example.invalid',
  CADDY_EDGE: 'loopback',
  CADDY_ADMIN: 'off',
}

/** Path of Caddy's internal root CA certificate under a given `XDG_DATA_HOME`. */
export function caddyRootCaPath(dataHome: string): string {
  return join(dataHome, 'caddy', 'pki', 'authorities', 'local', 'root.crt')
}

/**
 * A `lookup` for `https.request`/`ws` options that resolves every name to 127.0.0.1, so a
 * client can use `https://localhost:<port>` (matching the certificate and the site's Host)
 * without depending on how the machine resolves localhost.
 */
export function loopbackLookup(
  _hostname: string,
  options: LookupOptions,
  callback: (
    err: NodeJS.ErrnoException | null,
    address: string | LookupAddress[],
    family?: number,
  ) => void,
): void {
  if (options.all === true) callback(null, [{ address: LOOPBACK, family: 4 }])
  else callback(null, LOOPBACK, 4)
}

/** Result of {@link runCaddy}. */
export interface CaddyCommandResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Options of {@link runCaddy}. */
export interface RunCaddyOptions {
  /** The Caddyfile's placeholders; nothing else of the caller's environment is passed on. */
  env?: Readonly<Record<string, string>>
}

/**
 * Runs one `caddy` command (`validate`, `adapt`, `fmt`, ...) with only the given variables plus
 * `PATH`, and with `HOME`/`XDG_*` in a temp dir that is removed afterwards, so nothing is
 * written to the real home (`validate` creates the internal CA). Resolves with any exit code.
 *
 * @throws Error `caddy not found: apt-get install caddy` when the binary is missing.
 */
export async function runCaddy(
  args: readonly string[],
  options: RunCaddyOptions = {},
): Promise<CaddyCommandResult> {
  const home = mkdtempSync(join(tmpdir(), 'gateway-caddy-cmd-'))
  try {
    return await new Promise<CaddyCommandResult>((resolve, reject) => {
      const child = spawn(BINARY, args, {
        cwd: home,
        env: isolatedEnv(home, options.env),
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let stdout = ''
      let stderr = ''
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error(`caddy ${args.join(' ')} did not finish within ${COMMAND_TIMEOUT_MS} ms`))
      }, COMMAND_TIMEOUT_MS)
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
      child.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer)
        reject(err.code === 'ENOENT' ? new Error(NOT_FOUND) : err)
      })
      child.on('close', (code) => {
        clearTimeout(timer)
        resolve({ code, stdout, stderr })
      })
    })
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
}

/** Options of {@link startCaddy}. */
export interface StartCaddyOptions {
  /**
   * Placeholders for the Caddyfile, on top of {@link LOOPBACK_EDGE_ENV}: typically
   * `GATEWAY_PROXY_UPSTREAMS` and `GATEWAY_REGISTRAR_UPSTREAMS`. `CADDY_EDGE` and
   * `CADDY_ADMIN` cannot be overridden (loopback, admin off).
   */
  env?: Readonly<Record<string, string>>
  /** Caddyfile to run; defaults to the repository's {@link CADDYFILE}. */
  config?: string
}

/** Response of {@link TestCaddy.request}. */
export interface CaddyResponse {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

/** Options of {@link TestCaddy.request}. */
export interface CaddyRequestInit {
  method?: string
  headers?: OutgoingHttpHeaders
  body?: string
}

/** A `caddy run` on loopback ports, serving {@link TEST_DOMAIN} with its internal CA. */
export interface TestCaddy {
  readonly httpsPort: number
  readonly httpPort: number
  /** `https://localhost:<httpsPort>`; connect with {@link loopbackLookup} and {@link ca}. */
  readonly origin: string
  /** PEM of the root CA the site certificate chains to. */
  readonly ca: string
  readonly caPath: string
  /** Access log (Caddy's stdout), one parsed JSON line per request. */
  readonly accessLog: LogSink
  /** Caddy's own log (stderr): start-up, certificates, upstream errors. */
  readonly serverLog: LogSink
  /** Everything Caddy wrote to stdout and stderr so far, verbatim. */
  logText(): string
  /** One HTTPS request to the site (HTTP/1.1, new connection, verified against {@link ca}). */
  request(path: string, init?: CaddyRequestInit): Promise<CaddyResponse>
  /** SIGTERM, then waits for exit (SIGKILL after 5 s) and removes the temp dir. Idempotent. */
  stop(): Promise<void>
}

// Every Caddy this process started and has not seen exit: killed if the process exits first.
const live = new Map<ChildProcess, string>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const [child, dir] of live) {
      child.kill('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    }
  })
}

/**
 * Starts `caddy run` with the repository Caddyfile (or `options.config`) in loopback mode on
 * free 127.0.0.1 ports, its data in a temp dir, and resolves once it completes a TLS handshake
 * with a certificate from its internal CA. Rejects (never skips) when `caddy` is missing, exits
 * early or is not serving within 15 s.
 */
export async function startCaddy(options: StartCaddyOptions = {}): Promise<TestCaddy> {
  installExitHook()
  const config = options.config ?? CADDYFILE
  for (let attempt = 0; ; attempt++) {
    const httpsPort = await freePort()
    const httpPort = await freePort()
    try {
      return await launch(config, httpsPort, httpPort, options.env ?? {})
    } catch (err) {
      // freePort() can race with another process taking the port: try a few.
      if (!(err instanceof PortInUseError) || attempt >= 4) throw err
    }
  }
}

class PortInUseError extends Error {}

async function launch(
  config: string,
  httpsPort: number,
  httpPort: number,
  extraEnv: Readonly<Record<string, string>>,
): Promise<TestCaddy> {
  const vars = {
    ...LOOPBACK_EDGE_ENV,
    CADDY_HTTP_PORT: String(httpPort),
    CADDY_HTTPS_PORT: String(httpsPort),
    ...extraEnv,
    CADDY_EDGE: 'loopback',
    CADDY_ADMIN: 'off',
  }
  await assertLoopbackOnly(config, vars)
  const dir = mkdtempSync(join(tmpdir(), 'gateway-caddy-'))
  const env = isolatedEnv(dir, vars)
  const domain = env.GATEWAY_DOMAIN ?? TEST_DOMAIN
  const caPath = caddyRootCaPath(join(dir, 'data'))
  const accessLog = createLogSink()
  const serverLog = createLogSink()
  let text = ''

  const child = spawn(BINARY, ['run', '--adapter', 'caddyfile', '--config', config], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  live.set(child, dir)
  child.once('exit', () => live.delete(child))
  // Spawn failures are reported by waitUntilServing; later ones must not crash the run.
  child.on('error', () => {})
  // Both pipes stay drained for the whole run, so Caddy never blocks on a full pipe.
  child.stdout.on('data', (chunk: Buffer) => {
    text += chunk.toString()
    accessLog.stream.write(chunk)
  })
  child.stderr.on('data', (chunk: Buffer) => {
    text += chunk.toString()
    serverLog.stream.write(chunk)
  })

  let stopped: Promise<void> | null = null
  const stop = (): Promise<void> => {
    stopped ??= terminate(child).then(() => rmSync(dir, { recursive: true, force: true }))
    return stopped
  }

  let ca: string
  try {
    ca = await waitUntilServing(child, httpsPort, domain, caPath, () => text)
  } catch (err) {
    await stop()
    throw err
  }

  const origin = `https://${domain}:${httpsPort}`
  return {
    httpsPort,
    httpPort,
    origin,
    ca,
    caPath,
    accessLog,
    serverLog,
    logText: () => text,
    request: (path, init = {}) => httpsGet(origin, ca, path, init),
    stop,
  }
}

/**
 * Adapts `config` with the same placeholders first and refuses to start a Caddy that would
 * listen anywhere but 127.0.0.1 or keep its admin API: tests never bind a public address,
 * whatever an edit to the Caddyfile does.
 */
async function assertLoopbackOnly(config: string, vars: Readonly<Record<string, string>>) {
  const adapted = await runCaddy(['adapt', '--adapter', 'caddyfile', '--config', config], {
    env: vars,
  })
  if (adapted.code !== 0) throw new Error(`caddy adapt failed:\n${adapted.stderr.slice(-4000)}`)
  const json = JSON.parse(adapted.stdout) as {
    admin?: { disabled?: boolean }
    apps?: { http?: { servers?: Record<string, { listen?: string[] }> } }
  }
  const listens = Object.values(json.apps?.http?.servers ?? {}).flatMap((s) => s.listen ?? [])
  const public_ = listens.filter((address) => !address.startsWith(`${LOOPBACK}:`))
  if (listens.length === 0 || public_.length > 0 || json.admin?.disabled !== true) {
    throw new Error(
      `refusing to start caddy: listen ${JSON.stringify(listens)}, admin ` +
        `${json.admin?.disabled === true ? 'off' : 'on'} (tests need 127.0.0.1 only, admin off)`,
    )
  }
}

/** Resolves with the root CA PEM once a TLS handshake for `domain` verifies against it. */
async function waitUntilServing(
  child: ChildProcess,
  port: number,
  domain: string,
  caPath: string,
  output: () => string,
): Promise<string> {
  const deadline = Date.now() + START_TIMEOUT_MS
  let exited: Error | null = null
  const failure = (code: number | null): Error =>
    /address already in use/i.test(output())
      ? new PortInUseError(`port ${port} in use`)
      : new Error(`caddy exited (${code}) before it was serving:\n${output().slice(-4000)}`)
  const onExit = (code: number | null): void => {
    exited = failure(code)
  }
  let spawnError: Error | null = null
  const onError = (err: NodeJS.ErrnoException): void => {
    spawnError = err.code === 'ENOENT' ? new Error(NOT_FOUND) : err
  }
  child.on('exit', onExit)
  child.on('error', onError)
  try {
    let lastError = 'no attempt yet'
    for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
      if (spawnError !== null) throw spawnError
      if (exited !== null) throw exited
      if (Date.now() > deadline) {
        throw new Error(
          `caddy not serving https://${domain}:${port} within ${START_TIMEOUT_MS} ms ` +
            `(${lastError}):\n${output().slice(-4000)}`,
        )
      }
      try {
        const ca = readFileSync(caPath, 'utf8')
        await handshake(port, domain, ca)
        return ca
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err)
      }
      // Poll with a growing pause until the deadline: Caddy has no readiness signal of its own
      // once the admin API is off.
      await new Promise((resolve) => setTimeout(resolve, delay))
    }
  } finally {
    child.off('exit', onExit)
    child.off('error', onError)
  }
}

function handshake(port: number, domain: string, ca: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: LOOPBACK, port, servername: domain, ca, timeout: 2_000 })
    socket.once('secureConnect', () => {
      socket.destroy()
      resolve()
    })
    socket.once('timeout', () => socket.destroy(new Error('TLS handshake timed out')))
    socket.once('error', reject)
  })
}

function httpsGet(
  origin: string,
  ca: string,
  path: string,
  init: CaddyRequestInit,
): Promise<CaddyResponse> {
  const url = new URL(origin)
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: url.hostname,
        port: url.port,
        path,
        method: init.method ?? 'GET',
        headers: init.headers ?? {},
        ca,
        lookup: loopbackLookup,
        // A fresh connection per request: nothing is left open to keep the test process alive.
        agent: false,
        timeout: 10_000,
      },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(new Error(`${path}: no response within 10 s`)))
    req.on('error', reject)
    req.end(init.body)
  })
}

function terminate(child: ChildProcess): Promise<void> {
  // No pid: it never started (e.g. caddy missing), so there is nothing to wait for.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
    live.delete(child)
    return Promise.resolve()
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_TIMEOUT_MS)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

/** `PATH` plus the given variables, with home and XDG dirs under `dir` (created here). */
function isolatedEnv(
  dir: string,
  vars: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: dir,
    XDG_DATA_HOME: join(dir, 'data'),
    XDG_CONFIG_HOME: join(dir, 'config'),
    ...vars,
  }
  mkdirSync(env.XDG_DATA_HOME ?? join(dir, 'data'), { recursive: true })
  mkdirSync(env.XDG_CONFIG_HOME ?? join(dir, 'config'), { recursive: true })
  return env
}

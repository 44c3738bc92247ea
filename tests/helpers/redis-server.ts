import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './free-port.js'

/** A throwaway redis-server on 127.0.0.1. */
export interface TestRedis {
  /** `redis://[:password@]127.0.0.1:<port>` */
  readonly url: string
  readonly port: number
  /** SIGTERM, then waits for exit. Idempotent. */
  stop(): Promise<void>
  /** SIGKILL (a crash: connections reset, data lost), then waits for exit. */
  kill(): Promise<void>
  /** Starts again on the same port (stopping first if running); resolves when ready. */
  restart(): Promise<void>
}

export interface StartRedisOptions {
  /** Sets `requirepass`; the URL then carries it. */
  password?: string
}

const BINARY = 'redis-server'
const READY_TIMEOUT_MS = 10_000
const EXIT_TIMEOUT_MS = 5_000
const READY_LINE = 'Ready to accept connections'

// Servers not yet seen to exit, and dirs not yet removed: cleaned up if the process exits first.
const live = new Set<ChildProcess>()
const dirs = new Set<string>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL')
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  })
}

/**
 * Starts `redis-server` on a free loopback port with persistence off and a temp dir.
 * Rejects (never skips) when the binary is missing.
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<TestRedis> {
  installExitHook()
  const dir = mkdtempSync(join(tmpdir(), 'gateway-redis-'))
  dirs.add(dir)
  let port = 0
  let child: ChildProcess | null = null
  // freePort() can race with another process taking the port: try a few.
  for (let attempt = 0; child === null; attempt++) {
    port = await freePort()
    try {
      child = await spawnServer(port, dir, options.password)
    } catch (err) {
      if (!(err instanceof PortInUseError) || attempt >= 4) {
        rmSync(dir, { recursive: true, force: true })
        dirs.delete(dir)
        throw err
      }
    }
  }
  const auth = options.password === undefined ? '' : `:${encodeURIComponent(options.password)}@`
  let current: ChildProcess | null = child

  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const running = current
    current = null
    if (running !== null) await terminate(running, signal)
  }

  return {
    url: `redis://${auth}127.0.0.1:${port}`,
    port,
    async stop() {
      await halt('SIGTERM')
      rmSync(dir, { recursive: true, force: true })
      dirs.delete(dir)
    },
    kill: () => halt('SIGKILL'),
    async restart() {
      await halt('SIGTERM')
      current = await spawnServer(port, dir, options.password)
    },
  }
}

class PortInUseError extends Error {}

function spawnServer(port: number, dir: string, password?: string): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
  args.push('--protected-mode', 'yes', '--dir', dir)
  if (password !== undefined) args.push('--requirepass', password)
  mkdirSync(dir, { recursive: true }) // stop() removed it; restart() may follow
  return new Promise((resolve, reject) => {
    const child = spawn(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    let settled = false
    const finish = (err?: Error): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      child.off('exit', onExit)
      child.off('error', onError)
      if (err === undefined) {
        resolve(child)
        return
      }
      child.kill('SIGKILL')
      reject(err)
    }
    const onData = (chunk: Buffer): void => {
      if (settled) return
      output += chunk.toString()
      if (output.includes(READY_LINE)) finish()
    }
    const onExit = (code: number | null): void => {
      const err = output.includes('Address already in use')
        ? new PortInUseError(`port ${port} in use`)
        : new Error(`redis-server exited (${code}) before it was ready:\n${output.slice(-2000)}`)
      finish(err)
    }
    const onError = (err: NodeJS.ErrnoException): void => {
      finish(
        err.code === 'ENOENT'
          ? new Error('redis-server not found: apt-get install redis-server')
          : err,
      )
    }
    const timer = setTimeout(
      () => finish(new Error(`redis-server not ready within ${READY_TIMEOUT_MS} ms:\n${output}`)),
      READY_TIMEOUT_MS,
    )
    // Both pipes stay drained (ignored once ready), so the server never blocks on a full pipe.
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.on('exit', onExit)
    child.on('error', onError)
    live.add(child)
    child.once('exit', () => live.delete(child))
  })
}

function terminate(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_TIMEOUT_MS)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill(signal)
  })
}

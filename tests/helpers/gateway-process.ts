import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import type { BootstrapNode } from '../../shared/swarm/create-swarm.js'
import { LOOPBACK } from './testnet.js'

/** A gateway entry point (`proxy/main.js`, `scripts/start.js`, ...) run as a child process. */
export interface GatewayProcess {
  child: ChildProcess
  /** Parsed JSON log lines so far. */
  logs: Array<Record<string, unknown>>
  exited: Promise<number | null>
  /** Resolves with the first log line (past or future) matching `pred`. */
  waitForLog(pred: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>
  kill(signal: NodeJS.Signals): Promise<number | null>
}

const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

/** Environment that keeps a gateway process on the loopback testnet. */
export function loopbackEnv(bootstrap: BootstrapNode[]): Record<string, string> {
  return {
    GATEWAY_HYPERSWARM_BOOTSTRAP: bootstrap.map((n) => `${n.host}:${n.port}`).join(','),
    GATEWAY_HYPERSWARM_HOST: LOOPBACK,
    GATEWAY_PROXY_HOST: LOOPBACK,
    GATEWAY_PROXY_PORT: '0',
    GATEWAY_REGISTRAR_HOST: LOOPBACK,
    GATEWAY_REGISTRAR_PORT: '0',
  }
}

export function spawnGateway(entry: string, env: Record<string, string>): GatewayProcess {
  const child = spawn(process.execPath, [new URL(`../../${entry}`, import.meta.url).pathname], {
    env: { PATH: process.env.PATH ?? '', GATEWAY_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  live.add(child)
  const logs: Array<Record<string, unknown>> = []
  const waiters: Array<{
    pred: (l: Record<string, unknown>) => boolean
    resolve: (l: Record<string, unknown>) => void
  }> = []
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = once(child, 'exit').then(([code]) => {
    live.delete(child)
    for (const w of waiters.splice(0)) w.resolve({ exited: code, stderr })
    return code as number | null
  })
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
    let line: Record<string, unknown>
    try {
      line = JSON.parse(text) as Record<string, unknown>
    } catch {
      line = { msg: text }
    }
    logs.push(line)
    for (const w of [...waiters]) {
      if (!w.pred(line)) continue
      waiters.splice(waiters.indexOf(w), 1)
      w.resolve(line)
    }
  })
  return {
    child,
    logs,
    exited,
    waitForLog(pred) {
      const hit = logs.find(pred)
      if (hit !== undefined) return Promise.resolve(hit)
      return new Promise((resolve) => waiters.push({ pred, resolve }))
    },
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}

/** Waits for a "... listening on http://host:port" log line and returns the port. */
export async function listeningPort(gw: GatewayProcess, what: string): Promise<number> {
  const line = await gw.waitForLog(
    (l) =>
      'exited' in l ||
      (typeof l.msg === 'string' && l.msg.startsWith(`${what} listening on http://`)),
  )
  if ('exited' in line) throw new Error(`${what} exited before listening: ${String(line.stderr)}`)
  return Number(/:(\d+)$/.exec(line.msg as string)?.[1])
}

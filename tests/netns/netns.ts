import { execFileSync, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createInterface } from 'node:readline'

/**
 * Every namespace this suite makes is named `htnat-<pid>-<run>-...`: runs in parallel
 * (several worktrees on one machine) keep to their own even when a pid repeats (a reused
 * pid, another pid namespace sharing /run/netns), and a crashed run's are found by its dead
 * pid.
 */
export const NS_PREFIX = `htnat-${process.pid}-${randomBytes(3).toString('hex')}-`
const OURS = /^htnat-(\d+)-/

// Only 198.18.0.0/15 (RFC 2544 benchmarking space): nothing here is routable off the machine.
const ALLOWED = /^198\.(18|19)\.\d{1,3}\.\d{1,3}(\/\d+)?$/

function run(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] })
}

/** Fails clearly when the suite cannot run here (CI runs as root with iproute2 + nftables). */
export function requireNetnsTools(): void {
  if (process.getuid?.() !== 0) throw new Error('netns tests need root (CI runs as root)')
  for (const bin of ['ip', 'nft']) {
    try {
      run('sh', ['-c', `command -v ${bin}`])
    } catch {
      throw new Error(`netns tests need '${bin}' (apt-get install iproute2 nftables)`)
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Names of this suite's namespaces that exist now: this run's, or a dead run's when `stale`. */
export function ourNamespaces(stale = false): string[] {
  return run('ip', ['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => {
      const pid = Number(OURS.exec(n)?.[1] ?? NaN)
      if (Number.isNaN(pid)) return false
      if (n.startsWith(NS_PREFIX)) return !stale
      // Our pid with another run id: that run had our pid, so it is gone.
      return stale && (pid === process.pid || !alive(pid))
    })
}

/** Deletes this run's namespaces and those of runs that died, killing what runs inside. */
export function removeOurNamespaces(): void {
  for (const ns of [...ourNamespaces(), ...ourNamespaces(true)]) {
    try {
      run('ip', ['netns', 'pids', ns])
        .split('\n')
        .filter((p) => p !== '')
        .forEach((pid) => {
          try {
            process.kill(Number(pid), 'SIGKILL')
          } catch {
            // already gone
          }
        })
    } catch {
      // no pids
    }
    try {
      run('ip', ['netns', 'del', ns])
    } catch (err) {
      // Two runs starting together may both sweep one dead run's namespace: gone is fine.
      if (ourNamespaces(true).includes(ns) || ourNamespaces().includes(ns)) throw err
    }
  }
}

function checkAddress(addr: string): string {
  if (!ALLOWED.test(addr)) throw new Error(`netns address outside 198.18.0.0/15: ${addr}`)
  return addr
}

/** One network namespace of the simulation. */
export class Namespace {
  constructor(readonly name: string) {}

  static create(short: string): Namespace {
    const ns = new Namespace(NS_PREFIX + short)
    run('ip', ['netns', 'add', ns.name])
    ns.ip('link', 'set', 'lo', 'up')
    return ns
  }

  /** Deletes the namespace if it exists (its veth pairs go with it). */
  remove(): void {
    if (
      run('ip', ['netns', 'list'])
        .split('\n')
        .some((l) => l.split(' ')[0] === this.name)
    ) {
      run('ip', ['netns', 'del', this.name])
    }
  }

  ip(...args: string[]): string {
    return run('ip', ['-n', this.name, ...args])
  }

  exec(cmd: string, ...args: string[]): string {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args])
  }

  sysctl(setting: string): void {
    this.exec('sysctl', '-q', '-w', setting)
  }

  /** Loads an nftables ruleset (text) into this namespace. */
  nft(ruleset: string): void {
    run('ip', ['netns', 'exec', this.name, 'nft', '-f', '-'], ruleset)
  }

  addAddress(dev: string, cidr: string): void {
    this.ip('addr', 'add', checkAddress(cidr), 'dev', dev)
  }

  defaultRoute(via: string): void {
    this.ip('route', 'add', 'default', 'via', checkAddress(via))
  }

  /** Starts `node <script>` inside the namespace; stdout lines are JSON. */
  spawnNode(script: string, env: Record<string, string>): NodeProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, process.execPath, script], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    return new NodeProcess(child)
  }
}

/** Links `a` and `b` with a veth pair, addressing both ends (same /24). */
export function link(a: Namespace, aAddr: string, b: Namespace, bAddr: string, id: string): void {
  const aDev = `v${id}a`
  const bDev = `v${id}b`
  a.ip('link', 'add', aDev, 'type', 'veth', 'peer', 'name', bDev, 'netns', b.name)
  a.addAddress(aDev, `${aAddr}/24`)
  b.addAddress(bDev, `${bAddr}/24`)
  a.ip('link', 'set', aDev, 'up')
  b.ip('link', 'set', bDev, 'up')
}

/** A child `node` process in a namespace, with its JSON stdout lines. */
export class NodeProcess {
  readonly lines: Array<Record<string, unknown>> = []
  stderr = ''
  readonly exited: Promise<number | null>
  readonly #waiters: Array<() => void> = []

  constructor(readonly child: ChildProcess) {
    child.stderr?.on('data', (d: Buffer) => {
      if (this.stderr.length < 20_000) this.stderr += d.toString()
    })
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
    void this.exited.then(() => this.#waiters.splice(0).forEach((w) => w()))
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
      try {
        this.lines.push(JSON.parse(text) as Record<string, unknown>)
      } catch {
        this.lines.push({ msg: text })
      }
      this.#waiters.splice(0).forEach((w) => w())
    })
  }

  /** First stdout line matching `pred` (past or future); rejects on exit or timeout. */
  async waitFor(
    pred: (l: Record<string, unknown>) => boolean,
    timeoutMs: number,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const hit = this.lines.find(pred)
      if (hit !== undefined) return hit
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`process exited (${this.child.exitCode}): ${this.stderr.slice(-2000)}`)
      }
      const left = deadline - Date.now()
      if (left <= 0)
        throw new Error(`no matching line within ${timeoutMs} ms: ${this.stderr.slice(-2000)}`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        this.#waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    this.child.kill('SIGTERM')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000)
    await this.exited
    clearTimeout(timer)
  }
}

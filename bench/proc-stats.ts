import { readFileSync } from 'node:fs'

// USER_HZ: the unit of utime/stime in /proc/<pid>/stat. 100 on every Linux ABI Node supports.
const CLOCK_TICKS = 100

/** Resident set size of a process, in bytes, from /proc/<pid>/status (VmRSS). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]
  if (kb === undefined) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(kb) * 1024
}

/** User plus system CPU time a process has used so far, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name may contain spaces; fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // utime and stime are fields 14 and 15 of stat(5), i.e. 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
}

/** Soft and hard limits on open files of this process (children inherit them). */
export function openFileLimit(): { soft: number; hard: number } {
  const limits = readFileSync('/proc/self/limits', 'utf8')
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits)
  const num = (v: string | undefined) =>
    v === undefined || v === 'unlimited' ? Infinity : Number(v)
  return { soft: num(m?.[1]), hard: num(m?.[2]) }
}

/** Machine-wide CPU time so far, seconds: busy (steal excluded), steal and total. */
export function machineCpu(): { busy: number; steal: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? ''
  // cpu user nice system idle iowait irq softirq steal guest guest_nice
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line
    .split(/\s+/)
    .slice(1, 9)
    .map((v) => Number(v) / CLOCK_TICKS) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ]
  const busy = user + nice + system + irq + softirq
  return { busy, steal, total: busy + steal + idle + iowait }
}

/** CPU use of several processes over an interval, as a fraction of one core each. */
export class CpuMeter {
  readonly #pids: ReadonlyMap<string, number>
  #start = new Map<string, number>()
  #startedAt = 0
  #self = process.cpuUsage()
  #machine = machineCpu()

  /** `pids` names child processes; the bench process itself is measured as `bench`. */
  constructor(pids: ReadonlyMap<string, number>) {
    this.#pids = pids
  }

  start(): void {
    this.#startedAt = performance.now()
    this.#self = process.cpuUsage()
    this.#machine = machineCpu()
    this.#start = new Map([...this.#pids].map(([name, pid]) => [name, cpuSeconds(pid)]))
  }

  /**
   * Fraction of one core each process used since {@link start}; `other` is what the rest of
   * the machine used (kernel softirq work included, other tenants too) and `steal` what the
   * hypervisor took: when those are high, the figures are not this code's.
   */
  stop(): Record<string, number> {
    const seconds = (performance.now() - this.#startedAt) / 1000
    const self = process.cpuUsage(this.#self)
    const out: Record<string, number> = { bench: (self.user + self.system) / 1e6 / seconds }
    for (const [name, pid] of this.#pids) {
      out[name] = (cpuSeconds(pid) - (this.#start.get(name) ?? 0)) / seconds
    }
    const machine = machineCpu()
    const ours = Object.values(out).reduce((a, b) => a + b, 0)
    out.other = Math.max(0, (machine.busy - this.#machine.busy) / seconds - ours)
    out.steal = (machine.steal - this.#machine.steal) / seconds
    return out
  }
}

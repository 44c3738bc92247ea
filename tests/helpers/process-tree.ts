import { readdirSync, readFileSync } from 'node:fs'

/** A process as /proc shows it; `startTime` tells a process from a later one reusing its pid. */
export interface ProcessInfo {
  readonly pid: number
  readonly ppid: number
  /** Executable name (at most 15 characters), e.g. `caddy`, `node`. */
  readonly comm: string
  readonly state: string
  readonly startTime: string
}

/** Every process below `pid` (children, their children, ...), read from /proc (Linux). */
export function descendants(pid: number): ProcessInfo[] {
  const all = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => stat(Number(name)))
    .filter((info): info is ProcessInfo => info !== null)
  const found: ProcessInfo[] = []
  const parents = [pid]
  for (let parent = parents.pop(); parent !== undefined; parent = parents.pop()) {
    for (const info of all) {
      if (info.ppid !== parent) continue
      found.push(info)
      parents.push(info.pid)
    }
  }
  return found
}

/** True while `proc` (the same process, not a reused pid) exists and is not a zombie. */
export function isAlive(proc: ProcessInfo): boolean {
  const now = stat(proc.pid)
  return now !== null && now.startTime === proc.startTime && now.state !== 'Z'
}

function stat(pid: number): ProcessInfo | null {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return null
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split at the last ')'.
  const close = text.lastIndexOf(')')
  const comm = text.slice(text.indexOf('(') + 1, close)
  const fields = text.slice(close + 2).split(' ')
  // After comm: state, ppid, ...; starttime is field 22 of the whole line, 20 after comm.
  const [state, ppid] = fields
  const startTime = fields[19]
  if (state === undefined || ppid === undefined || startTime === undefined) return null
  return { pid, ppid: Number(ppid), comm, state, startTime }
}

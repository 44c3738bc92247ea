import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  samples: number[]
  timeDeltas: number[]
}

/** One line of a summary: a name and its share of the busy (non-idle) CPU time. */
export interface ProfileEntry {
  name: string
  ms: number
  percent: number
}

export interface ProfileSummary {
  path: string
  /** Sampled time inside the windows, ms, idle included. */
  windowMs: number
  /** Non-idle time, ms: what the percentages are of. */
  busyMs: number
  /** False when no sample fell in a window (clocks disagreed) and the whole profile was used. */
  windowed: boolean
  /** Self time by file or package. */
  byFile: ProfileEntry[]
  /** Self time by function. */
  bySelf: ProfileEntry[]
  /** Inclusive time of the gateway's own functions (dist/proxy, dist/shared). */
  byInclusive: ProfileEntry[]
}

/** A time window on CLOCK_MONOTONIC in microseconds, the clock V8 stamps profiles with. */
export interface Window {
  from: number
  to: number
}

/** Now on CLOCK_MONOTONIC, µs: comparable with another process's profile timestamps. */
export function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1000n)
}

const META = new Set(['(idle)', '(program)', '(garbage collector)', '(root)'])

function fileOf(url: string, projectRoot: string): string {
  if (url === '') return '(native)'
  if (url.startsWith('node:')) return url
  const path = url.startsWith('file://') ? new URL(url).pathname : url
  const nm = path.lastIndexOf('/node_modules/')
  if (nm !== -1) {
    const rest = path.slice(nm + 14).split('/')
    return (rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]) ?? path
  }
  return path.startsWith(projectRoot) ? path.slice(projectRoot.length) : path
}

/**
 * Summarises a V8 `.cpuprofile`: where the process spent its busy time inside the given
 * windows, by file or package, by function (self) and by the gateway's own functions
 * (inclusive, so a per-message entry point shows everything it costs).
 */
export function summarizeProfile(
  path: string,
  windows: readonly Window[],
  projectRoot: string,
  top = 15,
): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile
  const byId = new Map<number, ProfileNode>()
  const parent = new Map<number, number>()
  for (const node of profile.nodes) {
    byId.set(node.id, node)
    for (const child of node.children ?? []) parent.set(child, node.id)
  }
  // Sample i covers the time until sample i+1 (DevTools' convention).
  const stamps: number[] = []
  let t = profile.startTime
  for (const delta of profile.timeDeltas) stamps.push((t += delta))
  const inWindow = (at: number) => windows.some((w) => at >= w.from && at <= w.to)
  let windowed = stamps.some(inWindow)
  const take = (i: number) => !windowed || inWindow(stamps[i] as number)

  const self = new Map<string, number>()
  const files = new Map<string, number>()
  const inclusive = new Map<string, number>()
  let windowMs = 0
  let busyMs = 0
  for (let i = 0; i < profile.samples.length; i++) {
    if (!take(i)) continue
    const ms = ((stamps[i + 1] ?? stamps[i] ?? 0) - (stamps[i] ?? 0)) / 1000
    windowMs += ms
    const node = byId.get(profile.samples[i] as number)
    if (node === undefined) continue
    const { functionName, url, lineNumber } = node.callFrame
    if (functionName === '(idle)') continue
    busyMs += ms
    const file = META.has(functionName) ? functionName : fileOf(url, projectRoot)
    let fn = META.has(functionName)
      ? functionName
      : `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`
    // A native frame says little by itself: name who called it (a TCP or a UDX write?).
    if (file === '(native)') {
      const caller = byId.get(parent.get(node.id) ?? -1)?.callFrame
      if (caller !== undefined) {
        fn = `${functionName} (native) <- ${caller.functionName || '(anonymous)'} ${fileOf(caller.url, projectRoot)}`
      }
    }
    self.set(fn, (self.get(fn) ?? 0) + ms)
    files.set(file, (files.get(file) ?? 0) + ms)
    const seen = new Set<string>()
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)?.callFrame
      if (frame === undefined) break
      const f = fileOf(frame.url, projectRoot)
      if (!/^dist\/(proxy|shared)\//.test(f)) continue
      const key = `${frame.functionName || '(anonymous)'} ${f}:${frame.lineNumber + 1}`
      if (seen.has(key)) continue
      seen.add(key)
      inclusive.set(key, (inclusive.get(key) ?? 0) + ms)
    }
  }
  if (busyMs === 0) windowed = false
  const rank = (m: Map<string, number>): ProfileEntry[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms, percent: (100 * ms) / busyMs }))
  return {
    path,
    windowMs,
    busyMs,
    windowed,
    byFile: rank(files),
    bySelf: rank(self),
    byInclusive: rank(inclusive),
  }
}

import { BenchSocket } from '../ws-client.js'

/** Options of {@link measureRoundTrips}. */
export interface RoundTripOptions {
  /** Targets measured side by side, by name. */
  urls: Record<string, string>
  /** The client frame sent each time. */
  message: string
  /** The line that ends a round trip. */
  until: (line: string) => boolean
  warmup: number
  count: number
  /** Round trips per target before switching to the next one. */
  block?: number
}

/**
 * Round trips, one at a time on one socket per target. Targets take turns in blocks, so slow
 * drift (GC, CPU frequency, the other processes) falls on all of them alike.
 */
export async function measureRoundTrips(opts: RoundTripOptions): Promise<Record<string, number[]>> {
  const names = Object.keys(opts.urls)
  const sockets = await Promise.all(names.map((n) => BenchSocket.connect(opts.urls[n] as string)))
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]))
  const once = async (socket: BenchSocket): Promise<number> => {
    const started = performance.now()
    const done = socket.waitFor(opts.until)
    socket.send(opts.message)
    await done
    return performance.now() - started
  }
  try {
    for (const socket of sockets) for (let i = 0; i < opts.warmup; i++) await once(socket)
    const block = opts.block ?? 100
    for (let done = 0; done < opts.count; done += block) {
      const n = Math.min(block, opts.count - done)
      for (const [i, socket] of sockets.entries()) {
        const into = samples[names[i] as string] as number[]
        for (let k = 0; k < n; k++) into.push(await once(socket))
      }
    }
  } finally {
    await Promise.all(sockets.map((s) => s.close()))
  }
  return samples
}

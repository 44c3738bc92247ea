import { lineEventId } from '../../proxy/nostr-line.js'
import { eventFrame, makeEvent } from '../events.js'
import { sleep } from '../sleep.js'
import { BenchSocket, isEose } from '../ws-client.js'

/** Options of {@link measureDelivery}. */
export interface DeliveryOptions {
  /** A fresh URL per socket (its own token). */
  url: () => string
  subscribers: number
  /** Where the publisher connects, when not through `url` (a worker's own local client). */
  publisherUrl?: string
  /** The events' author, unique to this measurement, so no other subscription matches. */
  pubkey: string
  /**
   * `sequential`: publish, wait until every subscriber has the event, publish the next (push
   * and direct: each sample is one clean delivery). `paced`: publish at random intervals for a
   * while without waiting (polling: the wait depends on where each session's poll timer stands,
   * so events must land at random points of the poll cycle).
   */
  mode:
    | { kind: 'sequential'; count: number; warmup: number }
    | { kind: 'paced'; durationMs: number; meanGapMs: number; drainMs: number }
}

export interface DeliveryResult {
  /** Publish (EVENT written by the publisher) to arrival at a subscriber, ms, one per pair. */
  samples: number[]
  /** Deliveries that never arrived. */
  missed: number
}

/**
 * Publish -> delivery latency: one publisher and `subscribers` sockets, each with an open
 * subscription on the publisher's events; every (event, subscriber) pair is one sample.
 */
export async function measureDelivery(opts: DeliveryOptions): Promise<DeliveryResult> {
  const subs = await Promise.all(
    Array.from({ length: opts.subscribers }, () => BenchSocket.connect(opts.url())),
  )
  const publisher = await BenchSocket.connect(opts.publisherUrl ?? opts.url())
  const sentAt = new Map<string, number>()
  const arrivals = new Map<string, number>()
  const samples: number[] = []
  let recording = false
  let onArrival: ((id: string) => void) | null = null
  const filter = JSON.stringify({
    authors: [opts.pubkey],
    kinds: [1],
    since: Math.floor(Date.now() / 1000) - 5,
  })
  try {
    await Promise.all(
      subs.map(async (s) => {
        s.listen((line) => {
          if (!line.startsWith('["EVENT","dl"')) return
          const id = lineEventId(line)
          const at = id === null ? undefined : sentAt.get(id)
          if (id === null || at === undefined) return
          if (recording) samples.push(performance.now() - at)
          arrivals.set(id, (arrivals.get(id) ?? 0) + 1)
          onArrival?.(id)
        })
        const eose = s.waitFor(isEose('dl'))
        s.send(`["REQ","dl",${filter}]`)
        await eose
      }),
    )
    const publish = (): string => {
      const event = makeEvent(opts.pubkey, 1, [['t', 'bench']])
      sentAt.set(event.id, performance.now())
      publisher.send(eventFrame(event))
      return event.id
    }
    const mode = opts.mode
    if (mode.kind === 'sequential') {
      for (let i = 0; i < mode.warmup + mode.count; i++) {
        recording = i >= mode.warmup
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 5_000)
          let id = ''
          onArrival = (got) => {
            if (got !== id || arrivals.get(id) !== subs.length) return
            clearTimeout(timer)
            resolve()
          }
          id = publish()
        })
      }
    } else {
      recording = true
      const until = performance.now() + mode.durationMs
      while (performance.now() < until) {
        publish()
        // Uniform around the mean, so publishes fall at random phases of every poll timer.
        await sleep(mode.meanGapMs * (0.3 + 1.4 * Math.random()))
      }
      await sleep(mode.drainMs)
    }
    onArrival = null
    const expected =
      (mode.kind === 'sequential' ? mode.count + mode.warmup : sentAt.size) * subs.length
    let arrived = 0
    for (const n of arrivals.values()) arrived += n
    return { samples, missed: expected - arrived }
  } finally {
    await Promise.all([publisher, ...subs].map((s) => s.close()))
  }
}

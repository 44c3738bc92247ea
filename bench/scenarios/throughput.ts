import { eventFrame, makeEvent } from '../events.js'
import { drained, timedWindow } from '../timed-window.js'
import { BenchSocket } from '../ws-client.js'

/** Options of {@link measureThroughput}. */
export interface ThroughputOptions {
  /** One URL per connection. */
  urls: string[]
  /**
   * `req`: REQ -> stored events + EOSE, counted at EOSE. `event`: EVENT -> OK, counted at OK;
   * ephemeral events, so the relay's store stays the same size throughout.
   */
  kind: 'req' | 'event'
  /** Messages each connection keeps in flight. */
  inFlight: number
  /** REQ filter (JSON text), for `req`. */
  filter: string
  /** Author of the events, for `event`; no subscription matches it. */
  pubkey: string
  warmupMs: number
  durationMs: number
  /** Called when the measured window opens and closes (CPU metering). */
  onWindow?: (phase: 'start' | 'stop') => void
}

export interface ThroughputResult {
  /** Completed client messages per second in the measured window, all connections. */
  perSecond: number
  completed: number
  /** NOTICE lines seen (limits hit, errors): should be zero. */
  notices: number
  /** Replies still missing when the run ended. */
  stuck: number
}

const EPHEMERAL_KIND = 20001

/**
 * Several connections, each keeping `inFlight` messages pipelined: a new one goes out as soon as
 * one completes. For `req`, each of the `inFlight` subscription ids is reused only after its
 * EOSE arrived, as a client re-querying a view would; the ids never overlap in flight.
 */
export async function measureThroughput(opts: ThroughputOptions): Promise<ThroughputResult> {
  const sockets = await Promise.all(opts.urls.map((u) => BenchSocket.connect(u)))
  let completed = 0
  let notices = 0
  let outstanding = 0
  let running = true
  // Ephemeral events are never stored, so the relay takes a repeat as a new event: a small
  // pool of frames serialized up front keeps the load generator's work per message tiny.
  const frames = Array.from({ length: 1_024 }, () =>
    eventFrame(makeEvent(opts.pubkey, EPHEMERAL_KIND, [['t', 'tp']])),
  )
  let sent = 0
  const sendOne = (socket: BenchSocket, slot: number): void => {
    outstanding++
    if (opts.kind === 'req') socket.send(`["REQ","q${slot}",${opts.filter}]`)
    else socket.send(frames[sent++ % frames.length] as string)
  }
  for (const socket of sockets) {
    socket.listen((line) => {
      let slot = 0
      if (opts.kind === 'req') {
        if (!line.startsWith('["EOSE","q')) {
          if (line.startsWith('["NOTICE"')) notices++
          return
        }
        slot = Number(line.slice(10, line.indexOf('"', 10)))
      } else if (!line.startsWith('["OK"')) {
        if (line.startsWith('["NOTICE"')) notices++
        return
      }
      outstanding--
      completed++
      if (running) sendOne(socket, slot)
    })
  }
  try {
    for (const socket of sockets)
      for (let slot = 0; slot < opts.inFlight; slot++) sendOne(socket, slot)
    const { perSecond, count } = await timedWindow(
      () => completed,
      opts.warmupMs,
      opts.durationMs,
      opts.onWindow,
    )
    running = false
    // Let the pipelines drain so the next measurement starts from an idle proxy.
    await drained(() => outstanding)
    return { perSecond, completed: count, notices, stuck: outstanding }
  } finally {
    running = false
    await Promise.all(sockets.map((s) => s.close()))
  }
}

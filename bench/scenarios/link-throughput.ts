import { randomBytes } from 'node:crypto'
import type { BootstrapNode } from '../../shared/swarm/create-swarm.js'
import { openBareLink } from '../bare-link.js'
import { eventFrame, makeEvent } from '../events.js'
import { drained, timedWindow } from '../timed-window.js'

/** Options of {@link measureLinkThroughput}. */
export interface LinkThroughputOptions {
  bootstrap: readonly BootstrapNode[]
  /** The push worker's swarm key and relay, and a client token of the usual size. */
  peer: string
  relayKey: string
  token: string
  /** As in the throughput scenario: REQ -> stored events + EOSE, or EVENT -> OK. */
  kind: 'req' | 'event'
  /** REQ filter (JSON text), for `req`. */
  filter: string
  /** Author of the ephemeral events, for `event`. */
  pubkey: string
  /** Sessions (connectionKeys), and requests each keeps in flight. */
  sessions: number
  inFlight: number
  warmupMs: number
  durationMs: number
  onWindow?: (phase: 'start' | 'stop') => void
}

const EPHEMERAL_KIND = 20001

/**
 * The throughput ceiling of the worker link: the same relay-v2 requests the proxy sends for the
 * throughput scenario's client messages (WorkerLink's path, headers and body, `sessions`
 * connectionKeys with `inFlight` each), sent from a bare HyperDHT connection straight to the
 * push worker: no proxy, no client sockets, two processes instead of three. What the gateway
 * reaches can only be less; against direct it says how much of a target is the link's.
 */
export async function measureLinkThroughput(opts: LinkThroughputOptions): Promise<number> {
  const link = await openBareLink(opts.bootstrap, opts.peer)
  const { channel } = link
  let running = true
  let completed = 0
  let outstanding = 0
  try {
    const headers = { 'content-type': 'application/json', 'x-auth-token': opts.token }
    const path = `/post/relay/${opts.relayKey}`
    const frames = Array.from({ length: 1_024 }, () =>
      eventFrame(makeEvent(opts.pubkey, EPHEMERAL_KIND, [['t', 'tp']])),
    )
    let sent = 0
    const sendOne = (connectionKey: string, slot: number): void => {
      const text =
        opts.kind === 'req'
          ? `["REQ","q${slot}",${opts.filter}]`
          : (frames[sent++ % frames.length] as string)
      outstanding++
      channel
        .request({
          method: 'POST',
          path,
          headers,
          body: `{"message":${text},"connectionKey":"${connectionKey}"}`,
        })
        .then(
          (res) => {
            outstanding--
            if (res.statusCode === 200) completed++
            if (running) sendOne(connectionKey, slot)
          },
          () => outstanding--,
        )
    }
    for (let s = 0; s < opts.sessions; s++) {
      const connectionKey = randomBytes(16).toString('hex')
      for (let slot = 0; slot < opts.inFlight; slot++) sendOne(connectionKey, slot)
    }
    const { perSecond } = await timedWindow(
      () => completed,
      opts.warmupMs,
      opts.durationMs,
      opts.onWindow,
    )
    running = false
    await drained(() => outstanding)
    return perSecond
  } finally {
    running = false
    await link.close()
  }
}

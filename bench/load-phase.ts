import type { BootstrapNode } from '../shared/swarm/create-swarm.js'
import { monotonicMicros } from './cpu-profile.js'
import type { Window } from './cpu-profile.js'
import { eventFrame, makeEvent, randomKey } from './events.js'
import type { BenchGateway } from './gateway-process.js'
import type { BackendReady } from './ipc-messages.js'
import { histogramMean } from './metrics-scrape.js'
import type { MetricsSnapshot } from './metrics-scrape.js'
import type { BenchPlan } from './options.js'
import { CpuMeter } from './proc-stats.js'
import { progress } from './progress.js'
import type { LoadResults, RoundTripResult, ThroughputRow } from './results.js'
import { measureDelivery } from './scenarios/delivery.js'
import type { DeliveryOptions } from './scenarios/delivery.js'
import { measureRoundTrips } from './scenarios/round-trip.js'
import { measureThroughput } from './scenarios/throughput.js'
import { measureEcho } from './scenarios/transport-floor.js'
import { summarize } from './stats.js'
import { LOOPBACK } from './testnet.js'
import { BenchSocket, isEose } from './ws-client.js'

/**
 * Echo sizes: a small frame; one UDX packet's worth (what a REQ answer with 3 events is as
 * text); that answer as the legacy byte-array body actually sent.
 */
export const ECHO_SIZES = [256, 1_200, 4_000] as const

/**
 * Scenarios 1-3 (round trip, delivery, throughput), direct against proxy in turn. Returns the
 * results and the proxy's measured throughput windows (for the CPU profile).
 */
export async function runLoadPhase(
  plan: BenchPlan,
  backendPid: number,
  gateway: BenchGateway,
  ready: BackendReady,
  bootstrap: readonly BootstrapNode[],
): Promise<{ results: LoadResults; windows: Window[] }> {
  await gateway.register(ready.pushRelayKey, [ready.pushPeer])
  await gateway.register(ready.pollRelayKey, [ready.pollPeer])
  let tokenSeq = 0
  const directUrl = `ws://${LOOPBACK}:${ready.directPort}/`
  // One token per socket, as distinct clients would have.
  const relayUrl = (relayKey: string) => () =>
    gateway.wsUrl(relayKey, gateway.token(relayKey, tokenSeq++))
  const pushUrl = relayUrl(ready.pushRelayKey)
  const pollUrl = relayUrl(ready.pollRelayKey)

  // The first session dials the worker; later ones find the connection up.
  for (const url of [pushUrl(), pollUrl()]) {
    const s = await BenchSocket.connect(url)
    const eose = s.waitFor(isEose('warm'), 60_000)
    s.send('["REQ","warm",{"limit":1}]')
    await eose
    await s.close()
  }
  progress('proxy connected to both workers')

  // Three stored events for the REQ scenarios to return before EOSE.
  const storedAuthor = randomKey()
  const seeder = await BenchSocket.connect(directUrl)
  for (let i = 0; i < 3; i++) {
    const event = makeEvent(storedAuthor, 1, [['t', 'bench']], 'stored')
    const ok = seeder.waitFor((l) => l.startsWith(`["OK","${event.id}",true`))
    seeder.send(eventFrame(event))
    await ok
  }
  await seeder.close()
  const storedFilter = JSON.stringify({ authors: [storedAuthor], limit: 3 })
  const emptyFilter = JSON.stringify({ authors: [randomKey()], limit: 3 })

  progress('1/5 REQ->EOSE round trips, transport floor')
  const roundTrip = async (filter: string): Promise<RoundTripResult> => {
    const before = await gateway.metrics()
    const rt = await measureRoundTrips({
      urls: { direct: directUrl, proxy: pushUrl() },
      // The id is reused: each REQ replaces the last, as a client refreshing a view does.
      message: `["REQ","rt",${filter}]`,
      until: isEose('rt'),
      warmup: plan.roundTrip.warmup,
      count: plan.roundTrip.count,
    })
    return {
      direct: summarize(rt.direct ?? []),
      proxy: summarize(rt.proxy ?? []),
      ...proxyView(before, await gateway.metrics()),
    }
  }
  const roundTrips = { stored: await roundTrip(storedFilter), empty: await roundTrip(emptyFilter) }
  // Both servers answer a frame that is not JSON with a NOTICE on the spot: the client socket
  // hop alone, without the worker.
  const hop = await measureRoundTrips({
    urls: { direct: directUrl, proxy: pushUrl() },
    message: 'not json',
    until: (line) => line.startsWith('["NOTICE"'),
    warmup: plan.roundTrip.warmup,
    count: plan.roundTrip.count,
  })
  const clientHop = { direct: summarize(hop.direct ?? []), proxy: summarize(hop.proxy ?? []) }
  const echo = await measureEcho({
    bootstrap,
    echoKey: ready.echoKey,
    sizes: ECHO_SIZES,
    warmup: plan.roundTrip.warmup,
    count: plan.roundTrip.count,
  })

  progress('2/5 publish->delivery latency')
  const d = plan.delivery
  const sequential = { kind: 'sequential' as const, count: d.count, warmup: d.warmup }
  const deliveryRun = async (url: () => string, mode: DeliveryOptions['mode']) => {
    const r = await measureDelivery({ url, subscribers: d.subscribers, pubkey: randomKey(), mode })
    return { ...r, summary: summarize(r.samples) }
  }
  const delivery = {
    direct: await deliveryRun(() => directUrl, sequential),
    push: await deliveryRun(pushUrl, sequential),
    poll: await deliveryRun(pollUrl, {
      kind: 'paced',
      durationMs: d.pollDurationMs,
      meanGapMs: d.pollGapMs,
      // A poll cycle is the interval plus one round trip; wait out two.
      drainMs: 2_500,
    }),
  }

  progress('3/5 throughput (pipelined)')
  const windows: Window[] = []
  const meter = new CpuMeter(
    new Map([
      ['proxy', gateway.child.pid],
      ['backend', backendPid],
    ]),
  )
  const tp = plan.throughput
  const throughputRun = async (
    kind: 'req' | 'event',
    target: 'direct' | 'proxy',
  ): Promise<ThroughputRow> => {
    let cpu: Record<string, number> = {}
    const window: Window = { from: 0, to: 0 }
    const before = await gateway.metrics()
    const result = await measureThroughput({
      urls: Array.from({ length: tp.connections }, () =>
        target === 'direct' ? directUrl : pushUrl(),
      ),
      kind,
      inFlight: tp.inFlight,
      filter: storedFilter,
      pubkey: randomKey(),
      warmupMs: tp.warmupMs,
      durationMs: tp.durationMs,
      onWindow(phase) {
        if (phase === 'start') {
          meter.start()
          window.from = monotonicMicros()
        } else {
          cpu = meter.stop()
          window.to = monotonicMicros()
        }
      },
    })
    if (target === 'direct') {
      return {
        ...result,
        cpu,
        forwardMs: Number.NaN,
        requestBytes: Number.NaN,
        answerBytes: Number.NaN,
      }
    }
    windows.push(window)
    // The proxy forwards one message per session at a time: its mean forward time bounds what
    // each connection can do, however many messages the client pipelines.
    const { forwardMs, requestBytes, answerBytes } = proxyView(before, await gateway.metrics())
    return { ...result, cpu, forwardMs, requestBytes, answerBytes }
  }
  const throughput = {
    req: {
      direct: await throughputRun('req', 'direct'),
      proxy: await throughputRun('req', 'proxy'),
    },
    event: {
      direct: await throughputRun('event', 'direct'),
      proxy: await throughputRun('event', 'proxy'),
    },
  }
  return {
    results: { roundTrip: roundTrips, clientHop, echo, delivery, throughput },
    windows,
  }
}

// What the proxy's own metrics say about the forwards between two scrapes.
function proxyView(before: MetricsSnapshot, after: MetricsSnapshot) {
  const delta = (name: string, match: Record<string, string>) =>
    after.sum(name, match) - before.sum(name, match)
  const post = { route: 'relay_post' }
  const requests = delta('hypertuna_gateway_pool_requests_total', post)
  // Everything on the worker link counts (health checks too), which is noise next to the load.
  const perRequest = (direction: string) =>
    requests === 0
      ? Number.NaN
      : delta('hypertuna_gateway_pool_bytes_total', { direction }) / requests
  return {
    poolRequestMs:
      1000 * histogramMean(before, after, 'hypertuna_gateway_pool_request_seconds', post),
    forwardMs: 1000 * histogramMean(before, after, 'hypertuna_gateway_proxy_forward_seconds'),
    requestBytes: perRequest('out'),
    answerBytes: perRequest('in'),
  }
}

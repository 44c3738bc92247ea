import type { BootstrapNode } from '../shared/swarm/create-swarm.js'
import { monotonicMicros } from './cpu-profile.js'
import type { Window } from './cpu-profile.js'
import { eventFrame, makeEvent, randomKey } from './events.js'
import type { BenchGateway } from './gateway-process.js'
import type { BackendReady, LegacyReady } from './ipc-messages.js'
import { histogramMean } from './metrics-scrape.js'
import type { MetricsSnapshot } from './metrics-scrape.js'
import type { BenchPlan } from './options.js'
import { CpuMeter } from './proc-stats.js'
import { progress } from './progress.js'
import type {
  Backend,
  LinkThroughputRow,
  LoadResults,
  ProxyView,
  RoundTripResult,
  ThroughputRow,
} from './results.js'
import { measureDelivery } from './scenarios/delivery.js'
import type { DeliveryOptions } from './scenarios/delivery.js'
import { measureRoundTrips } from './scenarios/round-trip.js'
import { measureThroughput } from './scenarios/throughput.js'
import { measureLinkThroughput } from './scenarios/link-throughput.js'
import { measureEcho, measureLink } from './scenarios/transport-floor.js'
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
  pids: { backend: number; legacy: number },
  gateway: BenchGateway,
  ready: BackendReady,
  legacy: LegacyReady,
  bootstrap: readonly BootstrapNode[],
): Promise<{ results: LoadResults; windows: Window[] }> {
  await gateway.register(ready.pushRelayKey, [ready.pushPeer])
  await gateway.register(legacy.legacyRelayKey, [legacy.legacyPeer])
  let tokenSeq = 0
  const directUrl = `ws://${LOOPBACK}:${ready.directPort}/`
  const localUrl = `ws://${LOOPBACK}:${legacy.localPort}/`
  // One token per socket, as distinct clients would have.
  const relayUrl = (relayKey: string) => () =>
    gateway.wsUrl(relayKey, gateway.token(relayKey, tokenSeq++))
  const urls: Record<Backend, () => string> = {
    push: relayUrl(ready.pushRelayKey),
    legacy: relayUrl(legacy.legacyRelayKey),
  }

  // The first session dials the worker; later ones find the connection up.
  for (const url of [urls.push(), urls.legacy()]) {
    const s = await BenchSocket.connect(url)
    const eose = s.waitFor(isEose('warm'), 60_000)
    s.send('["REQ","warm",{"limit":1}]')
    await eose
    await s.close()
  }
  progress('proxy connected to both workers')

  // Three stored events for the REQ scenarios to return before EOSE, in both relays' stores
  // (the legacy worker has its own, through its local front).
  const storedAuthor = randomKey()
  const stored = Array.from({ length: 3 }, () =>
    makeEvent(storedAuthor, 1, [['t', 'bench']], 'stored'),
  )
  for (const url of [directUrl, localUrl]) {
    const seeder = await BenchSocket.connect(url)
    for (const event of stored) {
      const ok = seeder.waitFor((l) => l.startsWith(`["OK","${event.id}",true`))
      seeder.send(eventFrame(event))
      await ok
    }
    await seeder.close()
  }
  const storedFilter = JSON.stringify({ authors: [storedAuthor], limit: 3 })
  const emptyFilter = JSON.stringify({ authors: [randomKey()], limit: 3 })

  progress('1/5 REQ->EOSE round trips, transport floor')
  const roundTrip = async (filter: string): Promise<RoundTripResult> => {
    // The id is reused: each REQ replaces the last, as a client refreshing a view does.
    const common = { message: `["REQ","rt",${filter}]`, until: isEose('rt') }
    const rt = await measureRoundTrips({
      ...common,
      urls: { direct: directUrl, push: urls.push(), legacy: urls.legacy() },
      warmup: plan.roundTrip.warmup,
      count: plan.roundTrip.count,
    })
    // The proxy's metrics mix both workers in that run: one more short run each.
    const view = async (backend: Backend): Promise<ProxyView> => {
      const before = await gateway.metrics()
      await measureRoundTrips({
        ...common,
        urls: { proxy: urls[backend]() },
        warmup: 0,
        count: Math.ceil(plan.roundTrip.count / 4),
      })
      return proxyView(before, await gateway.metrics())
    }
    return {
      direct: summarize(rt.direct ?? []),
      push: summarize(rt.push ?? []),
      legacy: summarize(rt.legacy ?? []),
      view: { push: await view('push'), legacy: await view('legacy') },
    }
  }
  const roundTrips = { stored: await roundTrip(storedFilter), empty: await roundTrip(emptyFilter) }
  // Both servers answer a frame that is not JSON with a NOTICE on the spot: the client socket
  // hop alone, without the worker.
  const hop = await measureRoundTrips({
    urls: { direct: directUrl, proxy: urls.push() },
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
  const link = await measureLink({
    bootstrap,
    peer: ready.pushPeer,
    relayKey: ready.pushRelayKey,
    token: gateway.token(ready.pushRelayKey, tokenSeq++),
    messages: { stored: `["REQ","rt",${storedFilter}]`, empty: `["REQ","rt",${emptyFilter}]` },
    warmup: plan.roundTrip.warmup,
    count: plan.roundTrip.count,
  })

  progress('2/5 publish->delivery latency')
  const d = plan.delivery
  const sequential = { kind: 'sequential' as const, count: d.count, warmup: d.warmup }
  // Polling: publishes at random points of every session's poll timer, bounded in time.
  const paced = {
    kind: 'paced' as const,
    durationMs: d.pollDurationMs,
    meanGapMs: d.pollGapMs,
    // A poll cycle is the interval plus one round trip; wait out two.
    drainMs: 2_500,
  }
  const deliveryRun = async (
    url: () => string,
    mode: DeliveryOptions['mode'],
    publisherUrl?: string,
  ) => {
    const before = await gateway.metrics()
    const r = await measureDelivery({
      url,
      subscribers: d.subscribers,
      pubkey: randomKey(),
      mode,
      ...(publisherUrl === undefined ? {} : { publisherUrl }),
    })
    return { ...r, summary: summarize(r.samples), ...pollView(before, await gateway.metrics()) }
  }
  const delivery = {
    direct: await deliveryRun(() => directUrl, sequential),
    push: await deliveryRun(urls.push, sequential),
    legacy: await deliveryRun(urls.legacy, paced),
    // Published by one of the worker's own local clients: nothing tells the gateway.
    legacyLocal: await deliveryRun(urls.legacy, paced, localUrl),
  }

  progress('3/5 throughput (pipelined)')
  const windows: Window[] = []
  const meter = new CpuMeter(
    new Map([
      ['proxy', gateway.child.pid],
      ['backend', pids.backend],
      ['legacy', pids.legacy],
    ]),
  )
  const tp = plan.throughput
  const throughputRun = async (
    kind: 'req' | 'event',
    target: 'direct' | Backend,
  ): Promise<ThroughputRow> => {
    let cpu: Record<string, number> = {}
    const window: Window = { from: 0, to: 0 }
    const before = await gateway.metrics()
    const result = await measureThroughput({
      urls: Array.from({ length: tp.connections }, () =>
        target === 'direct' ? directUrl : urls[target](),
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
    // The proxy forwards a session's messages a few at a time: its mean forward time bounds
    // what each connection can do, however many messages the client pipelines.
    const { forwardMs, requestBytes, answerBytes } = proxyView(before, await gateway.metrics())
    return { ...result, cpu, forwardMs, requestBytes, answerBytes }
  }
  const throughput = {
    req: {
      direct: await throughputRun('req', 'direct'),
      push: await throughputRun('req', 'push'),
      legacy: await throughputRun('req', 'legacy'),
    },
    event: {
      direct: await throughputRun('event', 'direct'),
      push: await throughputRun('event', 'push'),
      legacy: await throughputRun('event', 'legacy'),
    },
  }
  // The ceiling: the push worker's link alone, carrying the same requests (link-throughput.ts).
  const linkRun = async (kind: 'req' | 'event'): Promise<LinkThroughputRow> => {
    let cpu: Record<string, number> = {}
    const perSecond = await measureLinkThroughput({
      bootstrap,
      peer: ready.pushPeer,
      relayKey: ready.pushRelayKey,
      token: gateway.token(ready.pushRelayKey, tokenSeq++),
      kind,
      filter: storedFilter,
      pubkey: randomKey(),
      sessions: tp.connections,
      inFlight: tp.inFlight,
      warmupMs: tp.warmupMs,
      durationMs: tp.durationMs,
      onWindow(phase) {
        if (phase === 'start') meter.start()
        else cpu = meter.stop()
      },
    })
    return { perSecond, cpu }
  }
  const linkThroughput = { req: await linkRun('req'), event: await linkRun('event') }
  return {
    results: {
      roundTrip: roundTrips,
      clientHop,
      echo,
      link,
      delivery,
      throughput,
      linkThroughput,
    },
    windows,
  }
}

// Polls the proxy made in a window: on its timer, and triggered early by an OK through it.
function pollView(before: MetricsSnapshot, after: MetricsSnapshot) {
  const polls = 'hypertuna_gateway_proxy_polls_total'
  return {
    polls: after.sum(polls) - before.sum(polls),
    triggeredPolls:
      after.sum('hypertuna_gateway_proxy_triggered_polls_total') -
      before.sum('hypertuna_gateway_proxy_triggered_polls_total'),
  }
}

// What the proxy's own metrics say about the forwards between two scrapes.
function proxyView(before: MetricsSnapshot, after: MetricsSnapshot): ProxyView {
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

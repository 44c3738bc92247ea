import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BootstrapNode } from '../shared/swarm/create-swarm.js'
import { fileRangeSha256 } from '../tests/helpers/big-file.js'
import { spawnChild } from './child-process.js'
import { eventFrame, makeEvent, randomKey } from './events.js'
import { startGateway } from './gateway-process.js'
import type { BenchGateway } from './gateway-process.js'
import type { BenchPlan } from './options.js'
import { CpuMeter } from './proc-stats.js'
import { progress } from './progress.js'
import { measureDownload } from './scenarios/drive-download.js'
import type { DownloadSample } from './scenarios/drive-download.js'
import { measureRoundTrips } from './scenarios/round-trip.js'
import { measureThroughput } from './scenarios/throughput.js'
import type { ThroughputResult } from './scenarios/throughput.js'
import { summarize } from './stats.js'
import type { Summary } from './stats.js'
import { LOOPBACK, bootstrapEnv } from './testnet.js'
import { isTunnelReady } from './tunnel-ipc.js'
import type { TunnelReady } from './tunnel-ipc.js'
import { BenchSocket, isEose } from './ws-client.js'

/** The direct baseline and the same service through the gateway's tunnel. */
export type TunnelTarget = 'direct' | 'tunnel'

export interface TunnelThroughputRow extends ThroughputResult {
  /** Fraction of one core per process during the window. */
  cpu: Record<string, number>
}

/** What the tunnel scenarios measured (issue 13 targets). */
export interface TunnelResults {
  roundTrip: Record<'stored' | 'empty', Record<TunnelTarget, Summary>>
  throughput: Record<'req' | 'event', Record<TunnelTarget, TunnelThroughputRow>>
  drive: {
    size: number
    /** Timed downloads of the whole file (not hashed), taking turns. */
    runs: Record<TunnelTarget, DownloadSample[]>
    /** CPU per process (fraction of one core) over all timed runs of each target. */
    cpu: Record<TunnelTarget, Record<string, number>>
    /** One hashed download each, and a hashed Range request through the tunnel. */
    intact: Record<TunnelTarget | 'range', DownloadSample>
    /** The proxy's VmRSS after forced GCs before the transfers, and the highest seen during. */
    rssBefore: number
    rssPeak: number
  }
  /** Tunnels used in the phase by kind (gateway metrics): proof of the path taken. */
  tunnelled: { ws: number; http: number }
}

// As run.ts's load proxy: the rate limiter is not what is measured.
const TUNNEL_PROXY_ENV = {
  GATEWAY_PROXY_MESSAGES_PER_SECOND: '1000000',
  GATEWAY_PROXY_MAX_SESSIONS_PER_TOKEN: '1000',
  GATEWAY_PROXY_MAX_SESSIONS_PER_IP: '1000',
}
const MIB = 2 ** 20

/**
 * Issue 13's scenarios on a fresh gateway: a tunnel-mode worker's relay (WebSocket) and file
 * service (HTTP), each measured direct and through the gateway, taking turns in one run.
 */
export async function runTunnelPhase(
  plan: BenchPlan,
  bootstrap: readonly BootstrapNode[],
  onStop: (stop: () => Promise<unknown>) => void,
): Promise<TunnelResults> {
  const dir = mkdtempSync(join(tmpdir(), 'hypertuna-bench-drive-'))
  onStop(async () => rmSync(dir, { recursive: true, force: true }))
  const child = spawnChild({
    name: 'tunnel-backend',
    entry: new URL('./tunnel-process.js', import.meta.url).href,
    env: { BENCH_BOOTSTRAP: bootstrapEnv(bootstrap), BENCH_DRIVE_DIR: dir },
  })
  onStop(() => child.stop())
  const ready = await child.waitForMessage(isTunnelReady, 60_000)
  const gateway = await startGateway({ bootstrap, env: TUNNEL_PROXY_ENV })
  onStop(() => gateway.stop(5_000))
  await gateway.register(ready.tunnelRelayKey, [ready.tunnelPeer])
  progress(
    `tunnel worker up (file ${(ready.size / MIB).toFixed(0)} MiB), gateway ${gateway.httpUrl}`,
  )

  let tokenSeq = 0
  const directUrl = `ws://${LOOPBACK}:${ready.directPort}/`
  const tunnelUrl = () =>
    gateway.wsUrl(ready.tunnelRelayKey, gateway.token(ready.tunnelRelayKey, tokenSeq++))
  const before = await gateway.metrics()
  await warm(tunnelUrl())

  progress('tunnel 1/3 WebSocket REQ->EOSE round trips, direct and tunnelled')
  const author = randomKey()
  const seeder = await BenchSocket.connect(directUrl)
  for (const event of Array.from({ length: 3 }, () => makeEvent(author, 1, [], 'stored'))) {
    const ok = seeder.waitFor((l) => l.startsWith(`["OK","${event.id}",true`))
    seeder.send(eventFrame(event))
    await ok
  }
  await seeder.close()
  const storedFilter = JSON.stringify({ authors: [author], limit: 3 })
  const roundTrip = async (filter: string) => {
    const rt = await measureRoundTrips({
      urls: { direct: directUrl, tunnel: tunnelUrl() },
      message: `["REQ","rt",${filter}]`,
      until: isEose('rt'),
      warmup: plan.roundTrip.warmup,
      count: plan.roundTrip.count,
    })
    return { direct: summarize(rt.direct ?? []), tunnel: summarize(rt.tunnel ?? []) }
  }
  const roundTrips = {
    stored: await roundTrip(storedFilter),
    empty: await roundTrip(JSON.stringify({ authors: [randomKey()], limit: 3 })),
  }

  progress('tunnel 2/3 WebSocket throughput (pipelined), direct and tunnelled')
  const meter = new CpuMeter(
    new Map([
      ['proxy', gateway.child.pid],
      ['worker', child.pid],
    ]),
  )
  const tp = plan.throughput
  const throughputRun = async (
    kind: 'req' | 'event',
    target: TunnelTarget,
  ): Promise<TunnelThroughputRow> => {
    let cpu: Record<string, number> = {}
    const result = await measureThroughput({
      urls: Array.from({ length: tp.connections }, () =>
        target === 'direct' ? directUrl : tunnelUrl(),
      ),
      kind,
      inFlight: tp.inFlight,
      filter: storedFilter,
      pubkey: randomKey(),
      warmupMs: tp.warmupMs,
      durationMs: tp.durationMs,
      onWindow: (phase) => (phase === 'start' ? meter.start() : (cpu = meter.stop())),
    })
    return { ...result, cpu }
  }
  const throughput = {
    req: {
      direct: await throughputRun('req', 'direct'),
      tunnel: await throughputRun('req', 'tunnel'),
    },
    event: {
      direct: await throughputRun('event', 'direct'),
      tunnel: await throughputRun('event', 'tunnel'),
    },
  }

  progress('tunnel 3/3 /drive downloads, direct and tunnelled')
  const drive = await runDrive(plan, gateway, ready, dir, child.pid)
  const after = await gateway.metrics()
  const closed = (kind: string) =>
    after.sum(TUNNELS_CLOSED, { kind }) - before.sum(TUNNELS_CLOSED, { kind })
  // HTTP tunnels are kept alive by the agent for the next request: count the open ones too.
  const tunnelled = {
    ws: closed('ws'),
    http: closed('http') + after.sum('hypertuna_gateway_tunnel_open', { kind: 'http' }),
  }
  return { roundTrip: roundTrips, throughput, drive, tunnelled }
}

const TUNNELS_CLOSED = 'hypertuna_gateway_tunnel_closed_total'

async function runDrive(
  plan: BenchPlan,
  gateway: BenchGateway,
  ready: TunnelReady,
  dir: string,
  workerPid: number,
): Promise<TunnelResults['drive']> {
  const path = `/drive/${ready.tunnelRelayKey}/${ready.file}`
  const urls: Record<TunnelTarget, string> = {
    direct: `http://${LOOPBACK}:${ready.httpPort}${path}`,
    tunnel: `${gateway.httpUrl}${path}`,
  }
  // Small first: the worker link is up and the file is in the page cache for both.
  for (const url of Object.values(urls)) {
    await measureDownload({ url, headers: { range: 'bytes=0-65535' } })
  }
  await gateway.memory()
  const rssBefore = gateway.rss()
  const pid = gateway.child.pid
  const runs: Record<TunnelTarget, DownloadSample[]> = { direct: [], tunnel: [] }
  const meter = new CpuMeter(
    new Map([
      ['proxy', pid],
      ['worker', workerPid],
    ]),
  )
  const busy: Record<TunnelTarget, Array<{ ms: number; cpu: Record<string, number> }>> = {
    direct: [],
    tunnel: [],
  }
  const repeats = plan.quick ? 1 : 3
  for (let i = 0; i < repeats; i++) {
    for (const target of ['direct', 'tunnel'] as const) {
      meter.start()
      const sample = await measureDownload({ url: urls[target], rssPid: pid })
      busy[target].push({ ms: sample.ms, cpu: meter.stop() })
      runs[target].push(sample)
    }
  }
  const cpu = { direct: meanCpu(busy.direct), tunnel: meanCpu(busy.tunnel) }
  // A Range from the middle, not aligned to anything.
  const start = Math.floor(ready.size / 3) + 7
  const end = Math.min(ready.size - 1, start + 10 * MIB + 12_345)
  const intact = {
    direct: await measureDownload({ url: urls.direct, expectSha256: ready.sha256, rssPid: pid }),
    tunnel: await measureDownload({ url: urls.tunnel, expectSha256: ready.sha256, rssPid: pid }),
    range: await measureDownload({
      url: urls.tunnel,
      headers: { range: `bytes=${start}-${end}` },
      expectSha256: await fileRangeSha256(join(dir, ready.file), start, end),
      rssPid: pid,
    }),
  }
  const all = [...runs.direct, ...runs.tunnel, ...Object.values(intact)]
  const rssPeak = Math.max(...all.map((s) => (Number.isNaN(s.rssPeak) ? 0 : s.rssPeak)))
  return { size: ready.size, runs, cpu, intact, rssBefore, rssPeak }
}

// Time-weighted mean of each process's CPU share over several windows.
function meanCpu(windows: Array<{ ms: number; cpu: Record<string, number> }>) {
  const total = windows.reduce((n, w) => n + w.ms, 0)
  const out: Record<string, number> = {}
  for (const w of windows) {
    for (const [name, share] of Object.entries(w.cpu)) {
      out[name] = (out[name] ?? 0) + (share * w.ms) / total
    }
  }
  return out
}

// The first session dials the worker; later ones find the link up.
async function warm(url: string): Promise<void> {
  const s = await BenchSocket.connect(url)
  const eose = s.waitFor(isEose('warm'), 60_000)
  s.send(`["REQ","warm",{"limit":1,"ids":["${randomBytes(32).toString('hex')}"]}]`)
  await eose
  await s.close()
}

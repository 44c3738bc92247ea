import { fmt, percent, ratio, table, verdict } from './report.js'
import type { BenchPlan } from './options.js'
import type { DownloadSample } from './scenarios/drive-download.js'
import { summarize } from './stats.js'
import type { TunnelResults } from './tunnel-phase.js'

const MB = 1e6
const MIB = 2 ** 20

/** The tunnel scenarios' side-by-side table, with a PASS/FAIL per issue 13 target. */
const cpuText = (cpu: Record<string, number>) =>
  Object.entries(cpu)
    .map(([name, v]) => `${name} ${percent(v)}`)
    .join(', ')

export function printTunnelResults(plan: BenchPlan, r: TunnelResults): void {
  const row = (
    metric: string,
    direct: string,
    tunnel: string,
    rel: string,
    target = '',
    ok: boolean | null = null,
  ) => [metric, direct, tunnel, rel, target, ok === null ? '' : verdict(ok)]
  const rows: string[][] = [['metric', 'direct', 'tunnel', 'tunnel/d', 'target', 'result']]
  for (const label of ['stored', 'empty'] as const) {
    const rt = r.roundTrip[label]
    const title = label === 'stored' ? '3 stored events' : 'empty result'
    rows.push(
      row(
        `WS REQ->EOSE p50, ${title} (ms)`,
        fmt(rt.direct.p50, 3),
        fmt(rt.tunnel.p50, 3),
        ratio(rt.tunnel.p50, rt.direct.p50),
        '<= direct + 0.15 ms',
        rt.tunnel.p50 <= rt.direct.p50 + 0.15,
      ),
      row(
        `WS REQ->EOSE p99, ${title} (ms)`,
        fmt(rt.direct.p99, 3),
        fmt(rt.tunnel.p99, 3),
        ratio(rt.tunnel.p99, rt.direct.p99),
      ),
    )
  }
  for (const [kind, label] of [
    ['req', 'REQ->EOSE'],
    ['event', 'EVENT->OK'],
  ] as const) {
    const t = r.throughput[kind]
    const share = t.tunnel.perSecond / t.direct.perSecond
    rows.push(
      row(
        `WS throughput ${label} (msg/s)`,
        fmt(t.direct.perSecond, 0),
        fmt(t.tunnel.perSecond, 0),
        percent(share),
        '>= 70% of direct',
        share >= 0.7,
      ),
    )
  }
  const d = r.drive
  const rate = (runs: DownloadSample[]) => summarize(runs.map((s) => s.perSecond)).p50
  const directRate = rate(d.runs.direct)
  const tunnelRate = rate(d.runs.tunnel)
  const served = d.runs.tunnel.every((s) => s.status === 200 && s.bytes === d.size)
  const size = `${fmt(d.size / MIB, 0)} MiB`
  rows.push(
    row(
      `/drive ${size} download, median (MB/s)`,
      fmt(directRate / MB, 1),
      served ? fmt(tunnelRate / MB, 1) : 'failed',
      percent(tunnelRate / directRate),
      '>= 50% of direct HTTP',
      served && tunnelRate >= 0.5 * directRate,
    ),
    row(
      `/drive proxy RSS growth during transfers (MiB)`,
      '-',
      fmt((d.rssPeak - d.rssBefore) / MIB, 1),
      '',
      '< 32 MiB',
      served && d.rssPeak - d.rssBefore < 32 * MIB,
    ),
    row(
      `/drive whole file and a Range, SHA-256 intact`,
      d.intact.direct.intact === true ? 'yes' : 'NO',
      `${d.intact.tunnel.intact === true ? 'yes' : 'NO'} / ${d.intact.range.intact === true ? 'yes' : 'NO'}`,
      '',
      'intact',
      d.intact.tunnel.intact === true && d.intact.range.intact === true,
    ),
  )
  const out = [
    '',
    `Tunnel mode (issue 13; same run, fresh gateway)`,
    '',
    table(rows),
    '',
    'Details',
  ]
  const runs = (s: DownloadSample[]) =>
    s.map((x) => `${fmt(x.perSecond / MB, 1)} MB/s (${x.status})`).join(', ')
  out.push(
    `  /drive runs taking turns: direct ${runs(d.runs.direct)}; tunnel ${runs(d.runs.tunnel)}`,
    `  /drive CPU during the timed runs (bench = the client): direct ${cpuText(d.cpu.direct)}; ` +
      `tunnel ${cpuText(d.cpu.tunnel)}`,
    `  /drive hashed runs (hashing in the client's time): direct ` +
      `${fmt(d.intact.direct.perSecond / MB, 1)} MB/s, tunnel ${fmt(d.intact.tunnel.perSecond / MB, 1)} MB/s; ` +
      `Range of ${fmt(d.intact.range.bytes / MIB, 1)} MiB status ${d.intact.range.status}`,
    `  proxy RSS: ${fmt(d.rssBefore / MIB, 1)} MiB after forced GC before the transfers, peak ` +
      `${fmt(d.rssPeak / MIB, 1)} MiB (VmRSS sampled every 20 ms)`,
    `  tunnels used in the phase (gateway metrics): ws ${fmt(r.tunnelled.ws, 0)}, http ` +
      `${fmt(r.tunnelled.http, 0)} (0 ws would mean the sessions went relay-v2)`,
  )
  for (const kind of ['req', 'event'] as const) {
    for (const target of ['direct', 'tunnel'] as const) {
      const t = r.throughput[kind][target]
      const cpu = cpuText(t.cpu)
      out.push(
        `  WS throughput ${kind.padEnd(5)} ${target.padEnd(6)}: ${fmt(t.perSecond, 0)} msg/s, ` +
          `CPU ${cpu}; notices ${t.notices}, unanswered ${t.stuck}`,
      )
    }
  }
  if (plan.quick) out.push('  quick run: one download each, fewer samples')
  process.stdout.write(`${out.join('\n')}\n`)
}

import { availableParallelism } from 'node:os'
import type { ProfileSummary } from './cpu-profile.js'
import type { BenchPlan } from './options.js'
import { fmt, percent, ratio, table, verdict } from './report.js'
import type { BenchResults, RoundTripResult } from './results.js'
import type { IdleTraffic } from './scenarios/idle-sessions.js'

const KB = 1024

const wire = (t: { requestBytes: number; answerBytes: number }) =>
  `worker link ~${fmt(t.requestBytes, 0)} B out / ~${fmt(t.answerBytes, 0)} B in per request`
const MIB = 2 ** 20

/** The side-by-side table with a PASS/FAIL per target, then details, then the profile. */
export function printResults(plan: BenchPlan, r: BenchResults): void {
  const { delivery: d, throughput: tp, idle } = r
  const n = idle.sessions
  const rssPer = (idle.after.procRss - idle.before.procRss) / n
  const heapPer = (idle.after.heapUsed - idle.before.heapUsed) / n
  const tpReq = tp.req.proxy.perSecond / tp.req.direct.perSecond
  const tpEvent = tp.event.proxy.perSecond / tp.event.direct.perSecond
  const rtRows = (label: string, rt: RoundTripResult): string[][] => [
    [
      `REQ->EOSE p50, ${label} (ms)`,
      fmt(rt.direct.p50, 3),
      fmt(rt.proxy.p50, 3),
      '-',
      ratio(rt.proxy.p50, rt.direct.p50),
      '<= 3x direct',
      verdict(rt.proxy.p50 <= 3 * rt.direct.p50),
    ],
    [
      `REQ->EOSE p99, ${label} (ms)`,
      fmt(rt.direct.p99, 3),
      fmt(rt.proxy.p99, 3),
      '-',
      ratio(rt.proxy.p99, rt.direct.p99),
      '',
      '',
    ],
  ]
  const rows: string[][] = [
    ['metric', 'direct', 'proxy push', 'proxy poll', 'push/direct', 'target', 'result'],
    ...rtRows('3 stored events', r.roundTrip.stored),
    ...rtRows('empty result', r.roundTrip.empty),
    [
      'publish->delivery p50 (ms)',
      fmt(d.direct.summary.p50, 3),
      fmt(d.push.summary.p50, 3),
      fmt(d.poll.summary.p50, 1),
      ratio(d.push.summary.p50, d.direct.summary.p50),
      'push < 5 ms',
      verdict(d.push.summary.p50 < 5),
    ],
    [
      'publish->delivery p99 (ms)',
      fmt(d.direct.summary.p99, 3),
      fmt(d.push.summary.p99, 3),
      fmt(d.poll.summary.p99, 1),
      ratio(d.push.summary.p99, d.direct.summary.p99),
      '',
      '',
    ],
    [
      'throughput REQ->EOSE (msg/s)',
      fmt(tp.req.direct.perSecond, 0),
      fmt(tp.req.proxy.perSecond, 0),
      '-',
      percent(tpReq),
      '>= 25% of direct',
      verdict(tpReq >= 0.25),
    ],
    [
      'throughput EVENT->OK (msg/s)',
      fmt(tp.event.direct.perSecond, 0),
      fmt(tp.event.proxy.perSecond, 0),
      '-',
      percent(tpEvent),
      '>= 25% of direct',
      verdict(tpEvent >= 0.25),
    ],
    [
      'memory per idle session, RSS (KB)',
      '-',
      fmt(rssPer / KB, 1),
      '-',
      '',
      `< 40 KB @ ${n.toLocaleString('en-US')}`,
      verdict(rssPer < 40 * KB),
    ],
    ['memory per idle session, heap (KB)', '-', fmt(heapPer / KB, 1), '-', '', '', ''],
    [
      'Hyperswarm requests/s, idle sessions',
      '-',
      fmt(idle.push.requestsPerSecond, 2),
      fmt(idle.poll.requestsPerSecond, 1),
      '',
      'push: 0',
      verdict(idle.push.requestsPerSecond === 0),
    ],
    [
      'health checks/s (per worker link)',
      '-',
      fmt(idle.push.healthChecksPerSecond, 2),
      '-',
      '',
      '',
      '',
    ],
  ]

  const out: string[] = [
    '',
    `Hypertuna gateway benchmark (${plan.quick ? 'quick smoke run' : 'full run'}` +
      `${plan.experiment === null ? '' : `, experiment ${plan.experiment}`}), ` +
      `${availableParallelism()} cores, Node ${process.version}, loopback HyperDHT testnet`,
    '',
    table(rows),
    '',
    'Details',
  ]
  for (const [label, rt] of [
    ['3 stored events', r.roundTrip.stored],
    ['empty result', r.roundTrip.empty],
  ] as const) {
    out.push(
      `  round trip, ${label}: ${rt.proxy.count} samples each; proxy mean ${fmt(rt.proxy.mean, 3)} ms ` +
        `= proxy->worker request ${fmt(rt.poolRequestMs, 3)} ms (${wire(rt)}) + ` +
        `${fmt(rt.forwardMs - rt.poolRequestMs, 3)} ms in the proxy + the rest on the client ` +
        `socket (direct mean ${fmt(rt.direct.mean, 3)} ms)`,
    )
  }
  out.push(
    `  round trip parts (p50): client socket hop alone (non-JSON frame -> NOTICE) direct ` +
      `${fmt(r.clientHop.direct.p50, 3)} ms, proxy ${fmt(r.clientHop.proxy.p50, 3)} ms; raw ` +
      `Hyperswarm echo to the worker process (UDX + Noise, no relay-v2) ` +
      Object.entries(r.echo)
        .map(([size, e]) => `${Number(size).toLocaleString('en-US')} B ${fmt(e.p50, 3)} ms`)
        .join(', '),
  )
  out.push(
    `  delivery: ${d.direct.summary.count}/${d.push.summary.count}/${d.poll.summary.count} samples ` +
      `(direct/push/poll), missed ${d.direct.missed}/${d.push.missed}/${d.poll.missed}; polling ` +
      `at the default GATEWAY_PROXY_POLL_INTERVAL_MS (1000 ms): mean ${fmt(d.poll.summary.mean, 1)} ms`,
  )
  for (const kind of ['req', 'event'] as const) {
    for (const target of ['direct', 'proxy'] as const) {
      const t = tp[kind][target]
      const cpu = Object.entries(t.cpu)
        .map(([name, v]) => `${name} ${percent(v)}`)
        .join(', ')
      const serial =
        target === 'proxy'
          ? `; mean forward ${fmt(t.forwardMs, 3)} ms => one-at-a-time ceiling ` +
            `${fmt((plan.throughput.connections * 1000) / t.forwardMs, 0)} msg/s; ${wire(t)}`
          : ''
      const warn = (t.cpu.bench ?? 0) > 0.9 ? '  <- load generator near one core' : ''
      out.push(
        `  throughput ${kind.padEnd(5)} ${target.padEnd(6)}: ${fmt(t.perSecond, 0)} msg/s, ` +
          `CPU ${cpu}; notices ${t.notices}, unanswered ${t.stuck}${serial}${warn}`,
      )
    }
  }
  out.push(
    `  throughput setup: ${plan.throughput.connections} connections x ${plan.throughput.inFlight} ` +
      `in flight; proxy run with GATEWAY_PROXY_MESSAGES_PER_SECOND=1000000 (the default, 50 per ` +
      `token, would cap it); queue depth at its default 64`,
  )
  out.push(
    `  idle memory: ${n.toLocaleString('en-US')} sessions opened in ${fmt(idle.openMs / 1000, 1)} s; ` +
      `RSS ${fmt(idle.before.procRss / MIB, 1)} -> ${fmt(idle.after.procRss / MIB, 1)} MiB, ` +
      `heap used ${fmt(idle.before.heapUsed / MIB, 1)} -> ${fmt(idle.after.heapUsed / MIB, 1)} MiB ` +
      `(after forced GC: ${idle.after.gc ? 'yes' : 'no'})`,
  )
  const routes = (t: IdleTraffic) =>
    Object.entries(t.byRoute)
      .map(([route, v]) => `${route} ${fmt(v, 2)}/s`)
      .join(', ') || 'none'
  out.push(
    `  idle traffic, push: ${n.toLocaleString('en-US')} sessions over ${fmt(idle.push.seconds, 1)} s: ` +
      `requests ${routes(idle.push)}; health checks ${fmt(idle.push.healthChecksPerSecond, 2)}/s ` +
      `(not in requests_total; mean RTT ${fmt(idle.push.healthRttMs, 3)} ms); polls ` +
      `${fmt(idle.push.pollsPerSecond, 2)}/s`,
  )
  out.push(
    `  idle traffic, polling worker: ${idle.pollSessions} more sessions over ` +
      `${fmt(idle.poll.seconds, 1)} s: requests ${routes(idle.poll)} ` +
      `(${fmt(idle.poll.requestsPerSecond / idle.pollSessions, 2)} per session per second)`,
  )
  if (plan.quick) out.push('  quick run: fewer samples and sessions than the targets assume')
  if (r.profile !== null) out.push('', ...profileLines(r.profile))
  process.stdout.write(`${out.join('\n')}\n`)
}

function profileLines(p: ProfileSummary): string[] {
  const scope = p.windowed ? 'proxy throughput windows only' : 'whole run (windows not matched)'
  const lines = [
    `Proxy CPU profile (--cpu-prof), ${scope}: ${fmt(p.busyMs, 0)} ms busy of ` +
      `${fmt(p.windowMs, 0)} ms sampled; percentages of busy time`,
    `  file: ${p.path}`,
  ]
  const section = (title: string, entries: ProfileSummary['byFile']) => {
    lines.push(`  ${title}`)
    for (const e of entries) lines.push(`    ${fmt(e.percent, 1).padStart(5)}%  ${e.name}`)
  }
  section('self time by file or package', p.byFile)
  section('self time by function', p.bySelf)
  section('inclusive time, gateway code', p.byInclusive)
  return lines
}

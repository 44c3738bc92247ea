import { availableParallelism, cpus } from 'node:os'
import type { ProfileSummary } from './cpu-profile.js'
import type { BenchPlan } from './options.js'
import { fmt, percent, ratio, table, verdict } from './report.js'
import type { Backend, BenchResults, RoundTripResult } from './results.js'
import type { IdleTraffic } from './scenarios/idle-sessions.js'

const KB = 1024

const wire = (t: { requestBytes: number; answerBytes: number }) =>
  `worker link ~${fmt(t.requestBytes, 0)} B out / ~${fmt(t.answerBytes, 0)} B in per request`
const MIB = 2 ** 20

/** Echo size a request's answer fits in: the floor it is held to (target `push request`). */
const ECHO_FOR: Record<'stored' | 'empty', number> = { stored: 1_200, empty: 256 }

/** The side-by-side table with a PASS/FAIL per target, then details, then the profile. */
export function printResults(plan: BenchPlan, r: BenchResults): void {
  const { delivery: d, throughput: tp, idle } = r
  const n = idle.sessions
  const rssPer = (idle.after.procRss - idle.before.procRss) / n
  const heapPer = (idle.after.heapUsed - idle.before.heapUsed) / n
  const share = (kind: 'req' | 'event', b: Backend) =>
    tp[kind][b].perSecond / tp[kind].direct.perSecond
  // metric, direct, push, legacy, push/direct, legacy/direct, target, result
  const row = (
    metric: string,
    direct: string,
    push: string,
    legacy: string,
    pushRatio: string,
    legacyRatio: string,
    target = '',
    ok: boolean | null = null,
  ): string[] => [
    metric,
    direct,
    push,
    legacy,
    pushRatio,
    legacyRatio,
    target,
    ok === null ? '' : verdict(ok),
  ]
  const rtRows = (label: 'stored' | 'empty', rt: RoundTripResult): string[][] => {
    const title = label === 'stored' ? '3 stored events' : 'empty result'
    const echoMean = r.echo[ECHO_FOR[label]]?.mean ?? Number.NaN
    const echoP50 = r.echo[ECHO_FOR[label]]?.p50 ?? Number.NaN
    const pushRequest = rt.view.push.poolRequestMs
    return [
      row(
        `REQ->EOSE p50, ${title} (ms)`,
        fmt(rt.direct.p50, 3),
        fmt(rt.push.p50, 3),
        fmt(rt.legacy.p50, 3),
        ratio(rt.push.p50, rt.direct.p50),
        ratio(rt.legacy.p50, rt.direct.p50),
        'push <= direct + 0.15 ms',
        rt.push.p50 <= rt.direct.p50 + 0.15,
      ),
      row('', '', '', '', '', '', 'legacy <= 4x direct', rt.legacy.p50 <= 4 * rt.direct.p50),
      row(
        `  floor: direct + raw echo ${ECHO_FOR[label].toLocaleString('en-US')} B, p50 (ms)`,
        '',
        fmt(rt.direct.p50 + echoP50, 3),
        '',
        ratio(rt.direct.p50 + echoP50, rt.direct.p50),
        '',
        `target ${fmt(rt.direct.p50 + 0.15, 3)}`,
      ),
      row(
        `REQ->EOSE p99, ${title} (ms)`,
        fmt(rt.direct.p99, 3),
        fmt(rt.push.p99, 3),
        fmt(rt.legacy.p99, 3),
        ratio(rt.push.p99, rt.direct.p99),
        ratio(rt.legacy.p99, rt.direct.p99),
      ),
      row(
        `proxy->worker request mean, ${title} (ms)`,
        `echo ${fmt(echoMean, 3)}`,
        fmt(pushRequest, 3),
        fmt(rt.view.legacy.poolRequestMs, 3),
        ratio(pushRequest, echoMean),
        ratio(rt.view.legacy.poolRequestMs, echoMean),
        `push <= 2x echo ${ECHO_FOR[label].toLocaleString('en-US')} B + 0.05`,
        pushRequest <= 2 * echoMean + 0.05,
      ),
    ]
  }
  const tpRows = (kind: 'req' | 'event', label: string): string[][] => [
    row(
      `throughput ${label} (msg/s)`,
      fmt(tp[kind].direct.perSecond, 0),
      fmt(tp[kind].push.perSecond, 0),
      fmt(tp[kind].legacy.perSecond, 0),
      percent(share(kind, 'push')),
      percent(share(kind, 'legacy')),
      'push >= 60% of direct',
      share(kind, 'push') >= 0.6,
    ),
    row('', '', '', '', '', '', 'legacy >= 25% of direct', share(kind, 'legacy') >= 0.25),
    row(
      '  ceiling: the push worker link alone (msg/s)',
      '',
      fmt(r.linkThroughput[kind].perSecond, 0),
      '',
      percent(r.linkThroughput[kind].perSecond / tp[kind].direct.perSecond),
      '',
      'no proxy, no client sockets',
    ),
  ]
  const pollPerSession = idle.poll.requestsPerSecond / idle.pollSessions
  const rows: string[][] = [
    ['metric', 'direct', 'push worker', 'legacy worker', 'push/d', 'legacy/d', 'target', 'result'],
    ...rtRows('stored', r.roundTrip.stored),
    ...rtRows('empty', r.roundTrip.empty),
    row(
      'publish->delivery p50, via gateway (ms)',
      fmt(d.direct.summary.p50, 3),
      fmt(d.push.summary.p50, 3),
      fmt(d.legacy.summary.p50, 1),
      ratio(d.push.summary.p50, d.direct.summary.p50),
      ratio(d.legacy.summary.p50, d.direct.summary.p50),
      'push < 5 ms',
      d.push.summary.p50 < 5,
    ),
    row('', '', '', '', '', '', 'legacy <= 20 ms', d.legacy.summary.p50 <= 20),
    row(
      'publish->delivery p99, via gateway (ms)',
      fmt(d.direct.summary.p99, 3),
      fmt(d.push.summary.p99, 3),
      fmt(d.legacy.summary.p99, 1),
      ratio(d.push.summary.p99, d.direct.summary.p99),
      ratio(d.legacy.summary.p99, d.direct.summary.p99),
    ),
    row(
      "publish->delivery p50, worker's local client (ms)",
      '-',
      '-',
      fmt(d.legacyLocal.summary.p50, 1),
      '',
      '',
      'legacy: at the poll interval',
      null,
    ),
    ...tpRows('req', 'REQ->EOSE'),
    ...tpRows('event', 'EVENT->OK'),
    row(
      'memory per idle session, RSS (KB)',
      '-',
      fmt(rssPer / KB, 1),
      '-',
      '',
      '',
      `< 40 KB @ ${n.toLocaleString('en-US')}`,
      rssPer < 40 * KB,
    ),
    row('memory per idle session, heap (KB)', '-', fmt(heapPer / KB, 1), '-', '', ''),
    row(
      'Hyperswarm requests/s per idle session',
      '-',
      fmt(idle.push.requestsPerSecond / n, 2),
      fmt(pollPerSession, 2),
      '',
      '',
      'push: 0',
      idle.push.requestsPerSecond === 0,
    ),
    row('', '', '', '', '', '', 'legacy <= 1 poll/s', pollPerSession <= 1.05),
    row(
      'health checks/s (per worker link)',
      '-',
      fmt(idle.push.healthChecksPerSecond, 2),
      '-',
      '',
      '',
    ),
  ]

  const out: string[] = [
    '',
    `Hypertuna gateway benchmark (${plan.quick ? 'quick smoke run' : 'full run'}` +
      `${plan.experiment === null ? '' : `, experiment ${plan.experiment}`}), ` +
      `${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}, ` +
      'loopback HyperDHT testnet',
    '',
    table(rows),
    '',
    'Details',
  ]
  for (const label of ['stored', 'empty'] as const) {
    const rt = r.roundTrip[label]
    for (const b of ['push', 'legacy'] as const) {
      const v = rt.view[b]
      out.push(
        `  round trip, ${label === 'stored' ? '3 stored events' : 'empty result'}, ${b}: ` +
          `${rt[b].count} samples; mean ${fmt(rt[b].mean, 3)} ms (direct ${fmt(rt.direct.mean, 3)}); ` +
          `proxy->worker request ${fmt(v.poolRequestMs, 3)} ms (${wire(v)}) + ` +
          `${fmt(v.forwardMs - v.poolRequestMs, 3)} ms in the proxy + the client socket`,
      )
    }
  }
  for (const label of ['stored', 'empty'] as const) {
    const rt = r.roundTrip[label]
    const echo = r.echo[ECHO_FOR[label]]?.p50 ?? Number.NaN
    const link = r.link[label]?.p50 ?? Number.NaN
    out.push(
      `  round trip floor, ${label === 'stored' ? '3 stored events' : 'empty result'} (p50): ` +
        `direct ${fmt(rt.direct.p50, 3)} + raw echo ${fmt(echo, 3)} = ${fmt(rt.direct.p50 + echo, 3)} ms ` +
        `(target ${fmt(rt.direct.p50 + 0.15, 3)}); relay-v2 request on a bare connection to the ` +
        `push worker (no proxy) ${fmt(link, 3)} ms = echo + ${fmt(link - echo, 3)}; push ` +
        `${fmt(rt.push.p50, 3)} ms = that + ${fmt(rt.push.p50 - link, 3)} (proxy and client socket)`,
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
    `  delivery: ${d.direct.summary.count}/${d.push.summary.count}/${d.legacy.summary.count}/` +
      `${d.legacyLocal.summary.count} samples (direct/push/legacy/legacy local), missed ` +
      `${d.direct.missed}/${d.push.missed}/${d.legacy.missed}/${d.legacyLocal.missed}; legacy: ` +
      `${d.legacy.polls} polls, ${d.legacy.triggeredPolls} of them triggered by an OK (local ` +
      `client: ${d.legacyLocal.polls} polls, ${d.legacyLocal.triggeredPolls} triggered); poll ` +
      `interval GATEWAY_PROXY_POLL_INTERVAL_MS at its default 1000 ms`,
  )
  for (const kind of ['req', 'event'] as const) {
    for (const target of ['direct', 'push', 'legacy'] as const) {
      const t = tp[kind][target]
      const cpu = Object.entries(t.cpu)
        .map(([name, v]) => `${name} ${percent(v)}`)
        .join(', ')
      const serial =
        target !== 'direct' ? `; mean forward ${fmt(t.forwardMs, 3)} ms; ${wire(t)}` : ''
      const warn = (t.cpu.bench ?? 0) > 0.9 ? '  <- load generator near one core' : ''
      out.push(
        `  throughput ${kind.padEnd(5)} ${target.padEnd(6)}: ${fmt(t.perSecond, 0)} msg/s, ` +
          `CPU ${cpu}; ${cpuPerMessage(t)}; notices ${t.notices}, unanswered ${t.stuck}${serial}${warn}`,
      )
    }
  }
  for (const kind of ['req', 'event'] as const) {
    const t = r.linkThroughput[kind]
    const cpu = Object.entries(t.cpu)
      .map(([name, v]) => `${name} ${percent(v)}`)
      .join(', ')
    out.push(
      `  throughput ${kind.padEnd(5)} link  : ${fmt(t.perSecond, 0)} msg/s, CPU ${cpu} (the bench ` +
        `process sends the proxy's relay-v2 requests itself, straight to the push worker)`,
    )
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
    `  idle traffic, legacy worker: ${idle.pollSessions} more sessions over ` +
      `${fmt(idle.poll.seconds, 1)} s: requests ${routes(idle.poll)} ` +
      `(${fmt(idle.poll.requestsPerSecond / idle.pollSessions, 2)} per session per second)`,
  )
  out.push(
    `  noise: the machine was ${percent(r.noise.busy)} busy (${percent(r.noise.steal)} stolen) in ` +
      'the second before the run; `other` above is foreign load during each window. Compare ' +
      'ratios within one run, not absolute figures across runs',
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

// CPU time per message of our own processes: unlike msg/s, it barely moves with foreign load
// (a starved process does less, not more per message), so before/after comparisons on a busy
// machine read it first. Processes under 1% in the window took no part.
function cpuPerMessage(t: { perSecond: number; cpu: Record<string, number> }): string {
  if (t.perSecond <= 0) return 'CPU per message -'
  const parts = Object.entries(t.cpu).filter(
    ([name, v]) => name !== 'other' && name !== 'steal' && v >= 0.01,
  )
  const us = (v: number) => (v / t.perSecond) * 1e6
  const total = parts.reduce((sum, [, v]) => sum + us(v), 0)
  return `CPU per message ${parts.map(([name, v]) => `${name} ${fmt(us(v), 1)}`).join(' + ')} = ${fmt(total, 1)} µs`
}

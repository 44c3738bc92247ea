// `npm run chaos`: the gateway's fault report (not a test). Starts its own loopback stack
// (testnet, `npm start` gateways, worker processes, a redis-server) and runs each fault under a
// steady client load, printing what the clients saw. See README "Reliability".
import { progress } from '../bench/progress.js'
import { fmt, table } from '../bench/report.js'
import { startTestnet } from '../bench/testnet.js'
import { startChaosGateway } from './chaos-stack.js'
import {
  floodConnections,
  floodMalformed,
  floodReq,
  proxySigterm,
  redisRestart,
  workerKill,
} from './scenarios.js'
import type { ChaosContext, Row } from './scenarios.js'

// Every wait has its own bound; this one caps the whole run if something goes badly wrong.
const LIMIT_MS = 300_000

async function main(): Promise<void> {
  setTimeout(() => {
    process.stderr.write(`chaos failed: still running after ${LIMIT_MS / 1000} s, giving up\n`)
    process.exit(1)
  }, LIMIT_MS).unref()
  const testnet = await startTestnet()
  const gateway = await startChaosGateway(testnet)
  const ctx: ChaosContext = { testnet, gateway }
  const rows: Row[] = []
  const failures: string[] = []
  const scenarios: Array<[string, () => Promise<Row | Row[]>]> = [
    ['worker SIGKILL', () => workerKill(ctx, 'SIGKILL')],
    ['worker SIGSTOP', () => workerKill(ctx, 'SIGSTOP')],
    ['redis kill+restart', () => redisRestart(ctx)],
    ['flood: malformed frames', () => floodMalformed(ctx)],
    ['flood: REQs with long ids', () => floodReq(ctx)],
    ['flood: connections', () => floodConnections(ctx)],
    ['proxy SIGTERM', () => proxySigterm(ctx)],
  ]
  try {
    for (const [name, run] of scenarios) {
      progress(`scenario: ${name}`)
      try {
        const out = await run()
        rows.push(...(Array.isArray(out) ? out : [out]))
      } catch (err) {
        // One broken scenario must not hide the others' figures.
        failures.push(`${name}: ${(err as Error).message}`)
      }
    }
  } finally {
    await gateway.stop(5_000).catch(() => undefined)
    await testnet.destroy()
  }
  print(rows)
  for (const failure of failures) process.stdout.write(`FAILED ${failure}\n`)
  process.exit(failures.length === 0 ? 0 : 1)
}

const mb = (bytes: number | null): string =>
  bytes === null ? '-' : `${fmt(bytes / 2 ** 20, 0)} MB`

function print(rows: Row[]): void {
  const header = [
    'scenario',
    'sent',
    'answered',
    'refused',
    'lost',
    'longest pause',
    'RSS before',
    'RSS after',
    'note',
  ]
  const body = rows.map((r) => [
    r.name,
    String(r.tally.sent),
    String(r.tally.answered),
    String(r.tally.refused),
    String(r.tally.lost),
    `${fmt(r.tally.longestPauseMs / 1000, 1)} s`,
    mb(r.rssBefore),
    mb(r.rssAfter),
    r.note,
  ])
  process.stdout.write(
    '\nLoad: 8 sessions x 25 EVENTs/s for 8 s per scenario, fault at 2.5 s; ' +
      'gateway = `npm start` (proxy + registrar), RSS of that process.\n\n',
  )
  process.stdout.write(`${table([header, ...body])}\n\n`)
}

void main().catch((err: unknown) => {
  process.stderr.write(`chaos failed: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})

/** How much each scenario does: the default run, or a short smoke run with `--quick`. */
export interface BenchPlan {
  quick: boolean
  /** Run the first proxy under `--cpu-prof` and summarise the throughput windows. */
  profile: boolean
  /** A change to try without editing the gateway (bench/experiments/), or null. */
  experiment: Experiment | null
  /** Only the tunnel scenarios (issue 13): `--tunnel-only`. */
  tunnelOnly: boolean
  roundTrip: { warmup: number; count: number }
  delivery: {
    subscribers: number
    warmup: number
    count: number
    /** Paced publishing against the polling worker. */
    pollDurationMs: number
    pollGapMs: number
  }
  throughput: { connections: number; inFlight: number; warmupMs: number; durationMs: number }
  idle: {
    sessions: number
    concurrency: number
    settleMs: number
    windowMs: number
    /** Idle sessions on the polling worker, for the legacy cost next to push's. */
    pollSessions: number
    pollWindowMs: number
  }
}

import { EXPERIMENTS } from './experiments/install.js'
import type { Experiment } from './experiments/install.js'

const USAGE = `usage: npm run bench -- [--quick] [--profile] [--sessions=N] [--experiment=NAME]
  --quick            ~30 s smoke run: fewer samples, shorter windows, 1,000 idle sessions
  --profile          run the load proxy under --cpu-prof; summarise its throughput windows
  --sessions=N       idle sessions for the memory and idle-traffic scenarios (default 5,000)
  --experiment=NAME  try a change without editing the gateway: ${EXPERIMENTS.join(', ')}
  --tunnel-only      only the tunnel-mode scenarios (WebSocket and 100 MB /drive through tunnels)`

export function parsePlan(argv: readonly string[]): BenchPlan {
  let quick = false
  let profile = false
  let sessions: number | undefined
  let experiment: Experiment | null = null
  let tunnelOnly = false
  for (const arg of argv) {
    if (arg === '--quick') quick = true
    else if (arg === '--profile') profile = true
    else if (arg === '--tunnel-only') tunnelOnly = true
    else if (arg.startsWith('--experiment=')) {
      const name = arg.slice(13)
      if (!(EXPERIMENTS as readonly string[]).includes(name)) {
        process.stderr.write(`unknown experiment ${name}\n${USAGE}\n`)
        process.exit(2)
      }
      experiment = name as Experiment
    } else if (arg.startsWith('--sessions=')) sessions = Number(arg.slice(11))
    else {
      process.stderr.write(
        `${arg === '--help' || arg === '-h' ? '' : `unknown option ${arg}\n`}${USAGE}\n`,
      )
      process.exit(arg === '--help' || arg === '-h' ? 0 : 2)
    }
  }
  if (
    sessions !== undefined &&
    (!Number.isInteger(sessions) || sessions < 1 || sessions > 50_000)
  ) {
    process.stderr.write(`--sessions must be an integer from 1 to 50000\n${USAGE}\n`)
    process.exit(2)
  }
  return quick
    ? {
        quick,
        profile,
        experiment,
        tunnelOnly,
        roundTrip: { warmup: 50, count: 300 },
        delivery: { subscribers: 8, warmup: 10, count: 100, pollDurationMs: 4_000, pollGapMs: 100 },
        throughput: { connections: 8, inFlight: 16, warmupMs: 500, durationMs: 1_500 },
        idle: {
          sessions: sessions ?? 1_000,
          concurrency: 32,
          settleMs: 1_000,
          windowMs: 3_000,
          pollSessions: 50,
          pollWindowMs: 2_000,
        },
      }
    : {
        quick,
        profile,
        experiment,
        tunnelOnly,
        roundTrip: { warmup: 200, count: 2_000 },
        delivery: {
          subscribers: 8,
          warmup: 20,
          count: 400,
          pollDurationMs: 12_000,
          pollGapMs: 100,
        },
        throughput: { connections: 8, inFlight: 16, warmupMs: 1_000, durationMs: 5_000 },
        idle: {
          sessions: sessions ?? 5_000,
          concurrency: 32,
          settleMs: 3_000,
          windowMs: 10_000,
          pollSessions: 200,
          pollWindowMs: 5_000,
        },
      }
}

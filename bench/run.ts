// `npm run bench`: the gateway's benchmark (not a test). Starts its own loopback stack and
// prints, side by side from one run, the proxy against a direct WebSocket server on the same
// relay backend. See bench/README.md for what each figure means.
import { mkdtempSync, readdirSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnChild } from './child-process.js'
import { summarizeProfile } from './cpu-profile.js'
import type { ProfileSummary, Window } from './cpu-profile.js'
import { startGateway } from './gateway-process.js'
import { EXPERIMENT_SCOPE } from './experiments/install.js'
import { runIdlePhase } from './idle-phase.js'
import { isBackendReady, isLegacyReady } from './ipc-messages.js'
import { runLoadPhase } from './load-phase.js'
import { parsePlan } from './options.js'
import type { BenchPlan } from './options.js'
import { printResults } from './print-results.js'
import { machineCpu, openFileLimit } from './proc-stats.js'
import { progress } from './progress.js'
import { percent } from './report.js'
import { sleep } from './sleep.js'
import { bootstrapEnv, startTestnet } from './testnet.js'
import { printTunnelResults } from './print-tunnel.js'
import { runTunnelPhase } from './tunnel-phase.js'

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url))

// The proxy's defaults cap a token at 50 messages/s (bursts of 100): a pipelined load generator
// would measure the rate limiter. The load proxy lifts that limit and the session caps; queue
// depth stays at its default (64), above the 16 messages each connection keeps in flight.
const LOAD_PROXY_ENV = {
  GATEWAY_PROXY_MESSAGES_PER_SECOND: '1000000',
  GATEWAY_PROXY_MAX_SESSIONS_PER_TOKEN: '1000',
  GATEWAY_PROXY_MAX_SESSIONS_PER_IP: '1000',
  GATEWAY_PROXY_SESSION_OPENS_PER_IP_PER_MINUTE: '1000000',
}

async function main(): Promise<void> {
  const plan = parsePlan(process.argv.slice(2))
  checkOpenFiles(plan)
  // Every wait has its own timeout; this bounds their sum if something goes badly wrong.
  const limitMs = plan.quick ? 180_000 : 420_000
  setTimeout(() => {
    process.stderr.write(`bench failed: still running after ${limitMs / 1000} s, giving up\n`)
    process.exit(1)
  }, limitMs).unref()
  progress(
    `plan: ${plan.quick ? 'quick' : 'full'}${plan.profile ? ' + profile' : ''}` +
      `${plan.experiment === null ? '' : ` + experiment ${plan.experiment}`}; ` +
      `${availableParallelism()} cores; open files ${openFileLimit().soft}`,
  )
  const experiment = plan.experiment
  const noise = await warnIfBusy()
  const testnet = await startTestnet()
  // Stopped in reverse order whatever happens; child-process.ts SIGKILLs stragglers on exit.
  const stops: Array<() => Promise<unknown>> = []
  try {
    progress(`testnet on ${bootstrapEnv(testnet.bootstrap)}`)
    if (plan.tunnelOnly) {
      printTunnelResults(plan, await runTunnelPhase(plan, testnet.bootstrap, (s) => stops.push(s)))
      return
    }
    const backend = spawnChild({
      name: 'backend',
      entry: new URL('./backend-process.js', import.meta.url).href,
      env: {
        BENCH_BOOTSTRAP: bootstrapEnv(testnet.bootstrap),
        ...(experiment !== null && EXPERIMENT_SCOPE[experiment].backend
          ? { BENCH_EXPERIMENT: experiment }
          : {}),
      },
    })
    stops.push(() => backend.stop())
    const legacyChild = spawnChild({
      name: 'legacy',
      entry: new URL('./legacy-process.js', import.meta.url).href,
      env: { BENCH_BOOTSTRAP: bootstrapEnv(testnet.bootstrap) },
    })
    stops.push(() => legacyChild.stop())
    const [ready, legacy] = await Promise.all([
      backend.waitForMessage(isBackendReady, 60_000),
      legacyChild.waitForMessage(isLegacyReady, 60_000),
    ])
    progress(
      `backends up: direct ws on :${ready.directPort}, push worker and legacy worker announced`,
    )

    const profileDir = plan.profile ? mkdtempSync(join(tmpdir(), 'hypertuna-bench-prof-')) : null
    const gateway = await startGateway({
      bootstrap: testnet.bootstrap,
      env: {
        ...LOAD_PROXY_ENV,
        ...(experiment !== null && EXPERIMENT_SCOPE[experiment].proxy
          ? { BENCH_EXPERIMENT: experiment }
          : {}),
      },
      ...(profileDir === null ? {} : { cpuProfileDir: profileDir }),
    })
    stops.push(() => gateway.stop(5_000))
    progress(`gateway (scripts/start.js) on ${gateway.httpUrl}`)
    const load = await runLoadPhase(
      plan,
      { backend: backend.pid, legacy: legacyChild.pid },
      gateway,
      ready,
      legacy,
      testnet.bootstrap,
    )
    // SIGTERM: a graceful stop, which is also when --cpu-prof writes its file.
    await gateway.stop()
    const profile = profileDir === null ? null : readProfile(profileDir, load.windows)

    const idle = await runIdlePhase(plan, testnet.bootstrap, ready, legacy, (stop) =>
      stops.push(stop),
    )
    // Issue 13's tunnel scenarios: their own worker and a fresh gateway, their own table.
    const tunnel = await runTunnelPhase(plan, testnet.bootstrap, (stop) => stops.push(stop))
    printResults(plan, { ...load.results, idle, profile, noise })
    printTunnelResults(plan, tunnel)
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined)
    await testnet.destroy()
  }
}

/** A problem with the machine's setup: its message says what to do; no stack needed. */
class SetupError extends Error {}

/**
 * Every idle session is one socket in the bench and one in the proxy. Node raises its own soft
 * open-file limit to the hard limit at start-up (children too), so only the hard limit counts.
 */
function checkOpenFiles(plan: BenchPlan): void {
  const needed = plan.idle.sessions + plan.idle.pollSessions + 1_024
  const { soft, hard } = openFileLimit()
  if (soft >= needed) return
  throw new SetupError(
    `the open-file limit (soft ${soft}, hard ${hard}) is below the ${needed} this run needs: ` +
      `raise the hard limit (\`ulimit -Hn ${needed}\`, as root) or pass --sessions=N with a smaller N`,
  )
}

// Other work on this 2-core machine (a test run, another tenant) moves every figure: say so.
async function warnIfBusy(): Promise<{ busy: number; steal: number }> {
  const before = machineCpu()
  await sleep(1_000)
  const after = machineCpu()
  const busy = (after.busy - before.busy) / (after.total - before.total)
  const steal = (after.steal - before.steal) / (after.total - before.total)
  if (busy > 0.1 || steal > 0.05) {
    progress(
      `WARNING: the machine is not idle before the run (${percent(busy)} busy, ${percent(steal)} ` +
        'stolen): the figures will be noisy',
    )
  }
  return { busy, steal }
}

// The profile file is kept (its path is printed) for Chrome DevTools or speedscope.
function readProfile(dir: string, windows: Window[]): ProfileSummary | null {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
  if (file === undefined) {
    progress('no .cpuprofile was written (the proxy did not exit cleanly)')
    return null
  }
  return summarizeProfile(join(dir, file), windows, PROJECT_ROOT)
}

// Exit explicitly: a stray handle (a socket a child never closed) must not keep the bench up.
// child-process.ts kills any child still alive on exit.
main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    const text =
      err instanceof SetupError
        ? err.message
        : err instanceof Error
          ? (err.stack ?? err.message)
          : String(err)
    process.stderr.write(`bench failed: ${text}\n`)
    process.exit(1)
  },
)

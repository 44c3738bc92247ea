import type { BootstrapNode } from '../shared/swarm/create-swarm.js'
import { randomKey } from './events.js'
import { startGateway } from './gateway-process.js'
import type { BackendReady, LegacyReady } from './ipc-messages.js'
import type { BenchPlan } from './options.js'
import { progress } from './progress.js'
import type { IdleResults } from './results.js'
import { idleTraffic, openIdleSessions } from './scenarios/idle-sessions.js'
import { sleep } from './sleep.js'
import type { BenchSocket } from './ws-client.js'

/**
 * Scenarios 4-5 against a fresh proxy child, so its baseline holds nothing of the load
 * scenarios: memory per idle session, then the Hyperswarm requests those sessions cause.
 */
export async function runIdlePhase(
  plan: BenchPlan,
  bootstrap: readonly BootstrapNode[],
  ready: BackendReady,
  legacy: LegacyReady,
  onStop: (stop: () => Promise<unknown>) => void,
): Promise<IdleResults> {
  const p = plan.idle
  const gateway = await startGateway({
    bootstrap,
    env: {
      // Sessions come with their own token and X-Forwarded-For address, so the per-token and
      // per-IP caps are not hit; raised anyway so the bench cannot trip over them.
      GATEWAY_PROXY_MAX_SESSIONS_PER_TOKEN: String(p.sessions + p.pollSessions),
      GATEWAY_PROXY_MAX_SESSIONS_PER_IP: String(p.sessions + p.pollSessions),
      GATEWAY_PROXY_SESSION_OPENS_PER_IP_PER_MINUTE: String(p.sessions + p.pollSessions),
    },
  })
  onStop(() => gateway.stop(5_000))
  const sockets: BenchSocket[] = []
  try {
    await gateway.register(ready.pushRelayKey, [ready.pushPeer])
    await gateway.register(legacy.legacyRelayKey, [legacy.legacyPeer])
    const idleAuthor = randomKey()
    const open = (relayKey: string, count: number, firstIndex: number) =>
      openIdleSessions({
        gateway,
        relayKey,
        count,
        concurrency: p.concurrency,
        pubkey: idleAuthor,
        firstIndex,
      })
    progress(`4/5 memory: ${p.sessions.toLocaleString('en-US')} idle sessions on the push worker`)
    // Warm-up: dial the worker and run every code path once before the baseline.
    const warm = await open(ready.pushRelayKey, 32, 1_000_000)
    await Promise.all(warm.map((s) => s.close()))
    await sleep(1_000)
    const memory = async () => ({ ...(await gateway.memory()), procRss: gateway.rss() })
    const before = await memory()
    const openedAt = performance.now()
    sockets.push(...(await open(ready.pushRelayKey, p.sessions, 0)))
    const openMs = performance.now() - openedAt
    await sleep(p.settleMs)
    const after = await memory()

    progress(`5/5 Hyperswarm traffic of idle sessions (${p.windowMs / 1000} s window)`)
    const push = await idleTraffic(gateway, p.windowMs)
    sockets.push(...(await open(legacy.legacyRelayKey, p.pollSessions, 2_000_000)))
    // Let every new session's poll timer start before the window opens.
    await sleep(1_500)
    const poll = await idleTraffic(gateway, p.pollWindowMs)
    return { sessions: p.sessions, before, after, openMs, push, pollSessions: p.pollSessions, poll }
  } finally {
    // Stop the proxy first: 5,000 sessions closing one by one would only add CLOSE traffic.
    await gateway.stop(5_000)
    for (const s of sockets) s.terminate()
  }
}

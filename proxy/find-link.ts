import type { SessionContext, SessionIdentity } from './session-context.js'
import { WorkerLink } from './worker-link.js'

/**
 * A worker link for a session: the relay's best ready worker not yet `tried`
 * (the pool dials every worker of the relay while we wait, and picks the one
 * with the fewest sessions), open before `deadline`. Once every worker was
 * tried, any that is ready again will do. Null when the deadline passes or the
 * session closed. Per link attempt, not per message, so its timers cost
 * nothing per message.
 */
export async function findLink(
  ctx: SessionContext,
  session: { identity: SessionIdentity; connectionKey: string; closed: boolean },
  tried: Set<string>,
  deadline: number,
): Promise<WorkerLink | null> {
  const { pool } = ctx
  const { registration, workerToken: token } = session.identity
  const peers = registration.peers
  for (;;) {
    const remaining = deadline - Date.now()
    if (remaining <= 0 || session.closed || peers.length === 0) return null
    const exclude = peers.every((k) => tried.has(k)) ? undefined : tried
    const key = await pool.whenReady(peers, remaining, exclude)
    if (key === null || session.closed) return null
    const lease = pool.lease(key)
    if ((await opensWithin(pool.acquire(key), deadline - Date.now())) && !session.closed) {
      const owner = { relayKey: registration.relayKey, connectionKey: session.connectionKey, token }
      const alias = registration.metadata.gatewayPath
      const relay = typeof alias === 'string' ? { ...owner, gatewayPath: alias } : owner
      return new WorkerLink(lease, relay, ctx.metrics, ctx.tuning)
    }
    lease.release()
    tried.add(key)
  }
}

async function opensWithin(opening: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, ms, false)))
  try {
    return await Promise.race([
      opening.then(
        () => true,
        () => false,
      ),
      timeout,
    ])
  } finally {
    clearTimeout(timer)
  }
}

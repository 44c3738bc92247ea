import type { SessionContext, SessionIdentity } from './session-context.js'
import { WorkerLink } from './worker-link.js'

/**
 * A worker link for a session: the best worker of its relay not yet `tried`
 * whose connection opens before `deadline`; while none is usable, waits for
 * one to become ready. Null when the deadline passes (or the session closed).
 * Per link attempt, not per message, so a timer here costs nothing per message.
 */
export async function findLink(
  ctx: SessionContext,
  session: { identity: SessionIdentity; connectionKey: string; closed: boolean },
  tried: Set<string>,
  deadline: number,
): Promise<WorkerLink | null> {
  const { pool, registry } = ctx
  const { registration, token } = session.identity
  for (;;) {
    const remaining = deadline - Date.now()
    if (remaining <= 0 || session.closed) return null
    let key = pool.select(registration.peers, tried)
    if (key === null) {
      key = await registry.whenPeerReady(registration.peers, remaining, tried)
      if (key === null) return null
      tried.delete(key)
    }
    const lease = pool.lease(key)
    if ((await opensWithin(pool.acquire(key), deadline - Date.now())) && !session.closed) {
      const owner = { relayKey: registration.relayKey, connectionKey: session.connectionKey, token }
      return new WorkerLink(lease, owner, ctx.metrics)
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

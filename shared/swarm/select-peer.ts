/** Lifecycle state of one pooled peer. */
export type PeerState = 'connecting' | 'ready' | 'unhealthy' | 'down'

/** What selection needs to know about a peer. */
export interface PeerSnapshot {
  key: string
  /** Null when the pool has never dialled this peer. */
  state: PeerState | null
  inflight: number
  sessions: number
  latencyMs: number | null
}

// Never-dialled peers rank between ready and unhealthy: probably fine, but a
// peer we know answers is the better bet. Down peers are in backoff: skipped.
const RANK: Record<string, number> = { ready: 0, cold: 1, connecting: 1, unhealthy: 2 }
const UNKNOWN_LATENCY_MS = 100

function score(p: PeerSnapshot): number {
  return (p.inflight + 1) * (p.latencyMs ?? UNKNOWN_LATENCY_MS)
}

/** Negative when `a` is the better pick of two peers of equal state rank. */
function compare(a: PeerSnapshot, b: PeerSnapshot): number {
  return a.sessions - b.sessions || score(a) - score(b) || (a.key < b.key ? -1 : 1)
}

/**
 * Picks the peer to route to: best state first (ready, never dialled,
 * connecting, unhealthy; down never), then the fewest sessions, then the
 * lowest in-flight load x latency, ties broken by key so every process picks
 * alike. Null when none qualifies.
 */
export function selectPeer(
  candidates: readonly PeerSnapshot[],
  exclude?: ReadonlySet<string>,
): string | null {
  let best: PeerSnapshot | null = null
  let bestRank = Infinity
  for (const p of candidates) {
    if (exclude?.has(p.key)) continue
    const rank = RANK[p.state ?? 'cold']
    if (rank === undefined) continue
    if (best === null || rank < bestRank || (rank === bestRank && compare(p, best) < 0)) {
      best = p
      bestRank = rank
    }
  }
  return best?.key ?? null
}

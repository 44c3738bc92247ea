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
  return (p.inflight + p.sessions + 1) * (p.latencyMs ?? UNKNOWN_LATENCY_MS)
}

/**
 * Picks the peer to route to: best state first (ready, never dialled,
 * connecting, unhealthy; down never), then the lowest load x latency, ties
 * broken by key so every process picks alike. Null when none qualifies.
 */
export function selectPeer(
  candidates: readonly PeerSnapshot[],
  exclude?: ReadonlySet<string>,
): string | null {
  let best: PeerSnapshot | null = null
  let bestRank = Infinity
  let bestScore = Infinity
  for (const p of candidates) {
    if (exclude?.has(p.key)) continue
    const rank = RANK[p.state ?? 'cold']
    if (rank === undefined) continue
    const s = score(p)
    if (
      rank < bestRank ||
      (rank === bestRank &&
        (s < bestScore || (s === bestScore && best !== null && p.key < best.key)))
    ) {
      best = p
      bestRank = rank
      bestScore = s
    }
  }
  return best?.key ?? null
}

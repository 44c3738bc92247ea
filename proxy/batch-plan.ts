/** Pipelining settings for workers that do not offer the `pipeline` extension (legacy). */
export interface LegacyPipelineOptions {
  /** Client messages in flight at once to a legacy worker; 1 turns pipelining off. */
  depth: number
  /** Relays (keys or public identifiers) whose legacy workers get one message at a time. */
  offRelays: ReadonlySet<string>
}

/** Client messages in flight at once to a worker that offers `pipeline`. */
export const ORDERED_PIPELINE_DEPTH = 16

/** How a session may pipeline to its current worker. */
export interface PipelinePolicy {
  depth: number
  /** The worker keeps per-connectionKey order (`pipeline`), so only subscription ids matter. */
  ordered: boolean
}

/** The policy for one relay's session on a worker with or without `pipeline`. */
export function pipelinePolicy(
  workerOrdersPerKey: boolean,
  relay: { relayKey: string; gatewayPath?: string | undefined },
  legacy: LegacyPipelineOptions,
): PipelinePolicy {
  if (workerOrdersPerKey) return { depth: ORDERED_PIPELINE_DEPTH, ordered: true }
  const off =
    legacy.offRelays.has(relay.relayKey) ||
    (relay.gatewayPath !== undefined && legacy.offRelays.has(relay.gatewayPath))
  return { depth: off ? 1 : Math.max(1, legacy.depth), ordered: false }
}

/**
 * How many messages from the head of `queue` may be in flight together. Never two touching one
 * subscription id (a REQ reusing an id must not reset it while the previous answer is coming).
 * For a worker that keeps no order (legacy: it handles requests as they arrive, concurrently),
 * also never a REQ behind an EVENT of the same batch: the REQ could be handled first and miss
 * that event, stored and live. Answers are relayed in queue order whatever this returns.
 */
export function batchLength(
  queue: ReadonlyArray<{ message: readonly unknown[] }>,
  policy: PipelinePolicy,
): number {
  let n = 0
  let touched: Set<string> | null = null
  let eventAhead = false
  for (const { message } of queue) {
    if (n >= policy.depth) break
    const [verb, subId] = message
    if ((verb === 'REQ' || verb === 'CLOSE') && typeof subId === 'string') {
      touched ??= new Set()
      if (touched.has(subId)) break
      touched.add(subId)
    }
    if (!policy.ordered) {
      if (verb === 'REQ' && eventAhead) break
      if (verb === 'EVENT') eventAhead = true
    }
    n++
  }
  return n
}

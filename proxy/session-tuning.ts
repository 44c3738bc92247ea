import type { Registry } from 'prom-client'
import { Counter } from 'prom-client'
import type { LegacyPipelineOptions } from './batch-plan.js'
import { PollTrigger } from './poll-trigger.js'

/** Speed settings of sessions on legacy workers (docs/protocol.md, ordering). */
export interface SessionTuning {
  legacyPipeline: LegacyPipelineOptions
  /** Event-triggered polling; null when turned off. */
  trigger: PollTrigger | null
  /** Least time between two triggered polls of one session, ms. */
  triggeredPollGapMs: number
}

/** The proxy's settings for them, from its config. */
export interface SessionTuningConfig {
  /** Client messages in flight at once to a legacy worker; 1 turns pipelining off. Default 8. */
  legacyPipelineDepth?: number
  /** Relays (keys or public identifiers) whose legacy workers get one message at a time. */
  legacyPipelineOff?: readonly string[]
  /** Least ms between triggered polls of one session; 0 turns the trigger off. Default 50. */
  triggeredPollGapMs?: number
}

export const DEFAULT_LEGACY_PIPELINE_DEPTH = 8
export const DEFAULT_TRIGGERED_POLL_GAP_MS = 50

/** Builds the tuning and publishes the trigger's counters in `registry`. */
export function sessionTuning(config: SessionTuningConfig, registry: Registry): SessionTuning {
  const gap = config.triggeredPollGapMs ?? DEFAULT_TRIGGERED_POLL_GAP_MS
  const trigger = gap > 0 ? new PollTrigger() : null
  if (trigger !== null) {
    // Plain numbers on the hot path, published at scrape time.
    new Counter({
      name: 'hypertuna_gateway_proxy_triggered_polls_total',
      help: 'Polls of legacy workers made early: an EVENT sent through this gateway was accepted, or a REQ was answered without its EOSE',
      registers: [registry],
      collect() {
        this.reset()
        this.inc(trigger.stats.polls)
      },
    })
  }
  return {
    legacyPipeline: {
      depth: config.legacyPipelineDepth ?? DEFAULT_LEGACY_PIPELINE_DEPTH,
      offRelays: new Set(config.legacyPipelineOff ?? []),
    },
    trigger,
    triggeredPollGapMs: gap,
  }
}

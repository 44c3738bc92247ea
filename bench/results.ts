import type { ProfileSummary } from './cpu-profile.js'
import type { MemoryReport } from './ipc-messages.js'
import type { DeliveryResult } from './scenarios/delivery.js'
import type { IdleTraffic } from './scenarios/idle-sessions.js'
import type { ThroughputResult } from './scenarios/throughput.js'
import type { Summary } from './stats.js'

/** What the proxy's own metrics say about its forwards in a window. */
export interface ProxyView {
  /** Mean proxy -> worker request time in the window (pool metric, relay_post), ms. */
  poolRequestMs: number
  /** Mean client message -> worker answer time inside the proxy (forward metric), ms. */
  forwardMs: number
  /** Mean bytes on the worker link per request, each way. */
  requestBytes: number
  answerBytes: number
}

/**
 * REQ -> EOSE round trips: direct and through the proxy to each worker, interleaved in one run;
 * `view` comes from a separate run per worker, so its metrics belong to that worker alone.
 */
export interface RoundTripResult {
  direct: Summary
  push: Summary
  legacy: Summary
  view: Record<Backend, ProxyView>
}

export interface ThroughputRow extends ThroughputResult {
  /** Fraction of one core per process during the window. */
  cpu: Record<string, number>
  /** Mean forward time in the proxy during the window, ms (NaN for direct). */
  forwardMs: number
  /** Mean bytes on the worker link per request, each way (NaN for direct). */
  requestBytes: number
  answerBytes: number
}

/** The worker link alone at the throughput scenario's load (scenarios/link-throughput.ts). */
export interface LinkThroughputRow {
  perSecond: number
  /** Fraction of one core per process during the window. */
  cpu: Record<string, number>
}

/** The two workers behind the proxy: the kit's push worker and a legacy (polling) worker. */
export type Backend = 'push' | 'legacy'

export interface DeliveryRow extends DeliveryResult {
  summary: Summary
  /** Polls the proxy made during the run, and how many of them an OK triggered early. */
  polls: number
  triggeredPolls: number
}

/** Scenarios 1-3, against the first proxy. */
export interface LoadResults {
  /** `stored`: the REQ returns 3 stored events; `empty`: only EOSE. */
  roundTrip: Record<'stored' | 'empty', RoundTripResult>
  /** A frame answered by the server itself (NOTICE for non-JSON): the client socket hop. */
  clientHop: { direct: Summary; proxy: Summary }
  /** Raw HyperDHT echo round trips to the backend, by message size in bytes. */
  echo: Record<number, Summary>
  /** The push worker's relay-v2 request sent from a bare connection (no proxy), by REQ case. */
  link: Record<string, Summary>
  /** `legacyLocal`: published by the legacy worker's own local client, not through the proxy. */
  delivery: Record<'direct' | Backend | 'legacyLocal', DeliveryRow>
  throughput: Record<'req' | 'event', Record<'direct' | Backend, ThroughputRow>>
  /** The push worker's link alone, same requests and load, no proxy: the ceiling. */
  linkThroughput: Record<'req' | 'event', LinkThroughputRow>
}

/** Scenarios 4-5, against a fresh proxy. */
export interface IdleResults {
  sessions: number
  before: MemoryReport & { procRss: number }
  after: MemoryReport & { procRss: number }
  openMs: number
  push: IdleTraffic
  pollSessions: number
  poll: IdleTraffic
}

export interface BenchResults extends LoadResults {
  idle: IdleResults
  profile: ProfileSummary | null
  /** Machine load in the second before the run (other tenants), fractions of all cores. */
  noise: { busy: number; steal: number }
}

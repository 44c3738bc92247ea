import { Counter, Gauge } from 'prom-client'
import type { Registry } from 'prom-client'
import { metricName } from '../shared/metrics/create-metrics-registry.js'
import type { RegistrarWireCode } from '../shared/registrar-api/registrar-error-code.js'

/** Signed routes, as the `route` label of signature and replay counters. */
export type SignedRoute = 'register' | 'delete' | 'legacy_delete' | 'get' | 'token'

/** Token operations, as the `kind` label. */
export type TokenOperation = 'issue' | 'refresh' | 'revoke'

/** An outcome label: `ok`, or the error code of the refusal (a closed set). */
export type OutcomeLabel = 'ok' | RegistrarWireCode

/** Options of {@link RegistrarMetrics}. */
export interface RegistrarMetricsOptions {
  registry: Registry
  /** Counts live registrations; called at scrape time, at most once per `countCacheMs`. */
  countRegistrations: () => Promise<number>
  /** Default 10 000. */
  countCacheMs?: number
  /** A count slower than this keeps the previous value. Default 1 000. */
  countTimeoutMs?: number
}

const name = (metric: string) => metricName('registrar', metric)

/**
 * The registrar's metrics, registered in the injected registry. Every label takes values from
 * a closed set (route names, operation kinds, error codes), never from request input.
 */
export class RegistrarMetrics {
  readonly requests: Counter<'route' | 'method' | 'status'>
  readonly registrations: Counter<'outcome' | 'reason'>
  readonly deletes: Counter<'form' | 'outcome'>
  readonly legacyDeletes: Counter<'outcome'>
  readonly signatureFailures: Counter<'route'>
  readonly replayRejections: Counter<'route' | 'reason'>
  readonly tokenOperations: Counter<'kind' | 'outcome'>
  readonly rateLimited: Counter
  readonly workerSecretsUnreadable: Counter
  readonly activeRegistrations: Gauge
  readonly #registry: Registry
  readonly #names: string[] = []
  readonly #count: () => Promise<number>
  readonly #cacheMs: number
  readonly #timeoutMs: number
  #counted: { value: number; at: number } | null = null
  #counting: Promise<number | null> | null = null

  constructor(options: RegistrarMetricsOptions) {
    this.#registry = options.registry
    this.#count = options.countRegistrations
    this.#cacheMs = options.countCacheMs ?? 10_000
    this.#timeoutMs = options.countTimeoutMs ?? 1_000
    const registers = [options.registry]
    const counter = <L extends string>(metric: string, help: string, labelNames: L[]) => {
      this.#names.push(name(metric))
      return new Counter<L>({ name: name(metric), help, labelNames, registers })
    }
    this.requests = counter('requests_total', 'HTTP requests answered, by route and status', [
      'route',
      'method',
      'status',
    ])
    this.registrations = counter(
      'registrations_total',
      'POST /api/relays outcomes (accepted, rejected) with the reason (ok or the error code)',
      ['outcome', 'reason'],
    )
    this.deletes = counter('deletes_total', 'DELETE /api/relays outcomes by signature form', [
      'form',
      'outcome',
    ])
    this.legacyDeletes = counter(
      'legacy_delete_total',
      'DELETE requests in the legacy, replayable signature form, by outcome',
      ['outcome'],
    )
    this.signatureFailures = counter(
      'signature_failures_total',
      'Requests refused for a missing or wrong signature, by route',
      ['route'],
    )
    this.replayRejections = counter(
      'replay_rejections_total',
      'Correctly signed requests refused as stale (issuedAt) or replayed (nonce)',
      ['route', 'reason'],
    )
    this.tokenOperations = counter(
      'token_operations_total',
      'Token issue, refresh and revoke outcomes (ok or the error code)',
      ['kind', 'outcome'],
    )
    this.rateLimited = counter(
      'rate_limited_total',
      'Requests refused by the per-IP rate limit',
      [],
    )
    this.workerSecretsUnreadable = counter(
      'worker_secrets_unreadable_total',
      'Requests refused because a worker account secret does not open with GATEWAY_WORKER_SECRET_KEY',
      [],
    )
    this.#names.push(name('active_registrations'))
    const refresh = () => this.#refreshCount()
    this.activeRegistrations = new Gauge({
      name: name('active_registrations'),
      help: 'Live registrations in the store (counted at scrape time, cached for a few seconds)',
      registers,
      async collect() {
        const value = await refresh()
        if (value !== null) this.set(value)
      },
    })
  }

  /** Removes these metrics from the registry, so that another server may register them. */
  remove(): void {
    for (const metric of this.#names) this.#registry.removeSingleMetric(metric)
  }

  // Listing registrations is O(n) in the store, so scrapes share one count per cache period
  // and a slow or failing store leaves the last value in place rather than stalling /metrics.
  async #refreshCount(): Promise<number | null> {
    const now = performance.now()
    if (this.#counted !== null && now - this.#counted.at < this.#cacheMs) return this.#counted.value
    this.#counting ??= this.#countWithTimeout().finally(() => {
      this.#counting = null
    })
    return this.#counting
  }

  async #countWithTimeout(): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), this.#timeoutMs)
    })
    try {
      const value = await Promise.race([this.#count(), timeout])
      if (value !== null) this.#counted = { value, at: performance.now() }
      return value ?? this.#counted?.value ?? null
    } catch {
      return this.#counted?.value ?? null
    } finally {
      clearTimeout(timer)
    }
  }
}

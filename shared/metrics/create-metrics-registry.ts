import { Registry, collectDefaultMetrics } from 'prom-client'

/** Prefix of every metric the gateway exports, default process metrics included. */
export const METRIC_PREFIX = 'hypertuna_gateway_'

/** Options of {@link createMetricsRegistry}. */
export interface CreateMetricsRegistryOptions {
  /** Register Node process metrics (CPU, memory, event loop, GC, ...). Defaults to true. */
  defaultMetrics?: boolean
  /** Labels added to every metric of the registry, e.g. `{ role: 'proxy' }`. */
  labels?: Readonly<Record<string, string>>
}

/**
 * Creates the process's metrics registry. Call it once per process and pass the registry down:
 * prom-client's global `register` is never used, so tests and co-hosted components stay isolated.
 */
export function createMetricsRegistry(options: CreateMetricsRegistryOptions = {}): Registry {
  const registry = new Registry()
  if (options.labels !== undefined) registry.setDefaultLabels({ ...options.labels })
  if (options.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX })
  }
  return registry
}

/** Full metric name for a subsystem, e.g. `metricName('proxy', 'sessions')`. */
export function metricName(subsystem: string, name: string): string {
  return `${METRIC_PREFIX}${subsystem}_${name}`
}

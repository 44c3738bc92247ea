/** One scrape of a Prometheus text endpoint: sample values by name and labels. */
export class MetricsSnapshot {
  readonly takenAt = performance.now()
  readonly #samples: Array<{ name: string; labels: Record<string, string>; value: number }> = []

  constructor(text: string) {
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line)
      if (m === null) continue
      const labels: Record<string, string> = {}
      for (const pair of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[pair[1] as string] = pair[2] as string
      }
      this.#samples.push({ name: m[1] as string, labels, value: Number(m[3]) })
    }
  }

  /** Sum of every sample of `name` whose labels include `match`. */
  sum(name: string, match: Record<string, string> = {}): number {
    let total = 0
    for (const s of this.#samples) {
      if (s.name !== name) continue
      if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) total += s.value
    }
    return total
  }

  /** Distinct values of `label` among samples of `name`. */
  labelValues(name: string, label: string): string[] {
    const values = new Set<string>()
    for (const s of this.#samples) {
      const v = s.labels[label]
      if (s.name === name && v !== undefined) values.add(v)
    }
    return [...values]
  }
}

export async function scrape(baseUrl: string): Promise<MetricsSnapshot> {
  const res = await fetch(new URL('/metrics', baseUrl))
  if (!res.ok) throw new Error(`GET /metrics: HTTP ${res.status}`)
  return new MetricsSnapshot(await res.text())
}

/** Per-second rate of a counter between two snapshots. */
export function ratePerSecond(
  before: MetricsSnapshot,
  after: MetricsSnapshot,
  name: string,
  match: Record<string, string> = {},
): number {
  const seconds = (after.takenAt - before.takenAt) / 1000
  return (after.sum(name, match) - before.sum(name, match)) / seconds
}

/** Mean of a histogram between two snapshots (`_sum` over `_count` deltas), in its own unit. */
export function histogramMean(
  before: MetricsSnapshot,
  after: MetricsSnapshot,
  name: string,
  match: Record<string, string> = {},
): number {
  const count = after.sum(`${name}_count`, match) - before.sum(`${name}_count`, match)
  const sum = after.sum(`${name}_sum`, match) - before.sum(`${name}_sum`, match)
  return count === 0 ? Number.NaN : sum / count
}

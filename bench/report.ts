/** A plain-text table: the first row is the header; every cell is already a string. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = []
  for (const row of rows) {
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)))
  }
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ')
  const [head, ...body] = rows
  if (head === undefined) return ''
  const rule = widths.map((w) => '-'.repeat(w)).join('  ')
  return [line(head), rule, ...body.map(line)].join('\n')
}

/** A number with sensible precision for the table; '-' for absent, 'n/a' for NaN. */
export function fmt(value: number | undefined, digits = 2): string {
  if (value === undefined) return '-'
  if (Number.isNaN(value)) return 'n/a'
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US')
  return value.toFixed(digits)
}

export function ratio(value: number, base: number): string {
  if (!Number.isFinite(value) || !Number.isFinite(base) || base === 0) return 'n/a'
  return `${(value / base).toFixed(2)}x`
}

export function percent(fraction: number): string {
  return Number.isFinite(fraction) ? `${Math.round(fraction * 100)}%` : 'n/a'
}

export const verdict = (ok: boolean): string => (ok ? 'PASS' : 'FAIL')

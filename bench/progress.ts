const started = performance.now()

/** A timestamped progress line on stderr; the results go to stdout. */
export function progress(text: string): void {
  const seconds = ((performance.now() - started) / 1000).toFixed(1).padStart(5)
  process.stderr.write(`[${seconds}s] ${text}\n`)
}

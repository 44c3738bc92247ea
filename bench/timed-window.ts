import { sleep } from './sleep.js'

/**
 * Waits out the warm-up, then counts what `completed()` gains over `durationMs`, calling
 * `onWindow` at the window's start and stop (CPU metering). Returns completions per second.
 */
export async function timedWindow(
  completed: () => number,
  warmupMs: number,
  durationMs: number,
  onWindow?: (phase: 'start' | 'stop') => void,
): Promise<{ perSecond: number; count: number }> {
  await sleep(warmupMs)
  onWindow?.('start')
  const from = completed()
  const started = performance.now()
  await sleep(durationMs)
  const count = completed() - from
  const seconds = (performance.now() - started) / 1000
  onWindow?.('stop')
  return { perSecond: count / seconds, count }
}

/** Waits (bounded) until nothing is outstanding, so the next measurement starts idle. */
export async function drained(outstanding: () => number, boundMs = 5_000): Promise<void> {
  const deadline = performance.now() + boundMs
  while (outstanding() > 0 && performance.now() < deadline) await sleep(20)
}

/** Options of {@link backoffDelay}. */
export interface BackoffOptions {
  minMs: number
  maxMs: number
}

/**
 * Exponential backoff with "equal jitter": half the window is fixed so retries
 * never collapse to zero, half is random so many gateways restarting together
 * do not dial a recovering worker in lockstep.
 */
export function backoffDelay(
  attempt: number,
  { minMs, maxMs }: BackoffOptions,
  random: () => number = Math.random,
): number {
  const window = Math.min(maxMs, minMs * 2 ** Math.max(0, attempt))
  return Math.round(window / 2 + random() * (window / 2))
}

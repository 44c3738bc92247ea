/**
 * Polls `check` every `intervalMs` until it returns true; rejects after `timeoutMs`. For
 * conditions with no event to wait on (expiry, reconnection), instead of a fixed sleep.
 */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  { timeoutMs = 5_000, intervalMs = 20, what = 'condition' } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() >= deadline) throw new Error(`${what} not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/** True when `promise` resolves, false when it rejects. */
export function succeeds(promise: Promise<unknown>): Promise<boolean> {
  return promise.then(
    () => true,
    () => false,
  )
}

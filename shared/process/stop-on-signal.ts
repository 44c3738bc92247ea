import type { Logger } from 'pino'

/**
 * Runs `stop` once on SIGINT or SIGTERM, then exits 0 (1 if stopping failed
 * or took longer than `forcedExitMs`). Returns the same idempotent stop for
 * callers that need to stop for other reasons (a failed start).
 */
export function stopOnSignal(
  logger: Logger,
  stop: () => Promise<void>,
  forcedExitMs = 30_000,
): (reason: string) => Promise<void> {
  let stopping: Promise<void> | null = null
  const once = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ reason }, 'stopping')
      setTimeout(() => process.exit(1), forcedExitMs).unref()
      await stop()
      logger.info('stopped')
    })()
    return stopping
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      once(signal).then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'did not stop cleanly')
          process.exit(1)
        },
      )
    })
  }
  return once
}

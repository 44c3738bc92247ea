import type { Logger } from 'pino'
import { ErrorCode } from '../errors.js'

/** Exit status of a process stopped by {@link crashOnUncaught} (BSD EX_SOFTWARE). */
export const CRASH_EXIT_CODE = 70

/**
 * The last resort of an entry point: an exception nothing caught or a rejection nothing
 * handled is logged at fatal with a stable code and the process exits {@link CRASH_EXIT_CODE}.
 * State after such an error is unknown, so the process does not try to carry on; its
 * supervisor (compose `restart:`) starts a fresh one. Returns a function that uninstalls.
 */
export function crashOnUncaught(
  logger: Logger,
  exit: (code: number) => void = (code) => process.exit(code),
): () => void {
  let crashed = false
  const crash = (code: string, err: unknown): void => {
    if (crashed) return
    crashed = true
    try {
      logger.fatal({ code, err }, 'unexpected error; exiting (crash-only)')
      logger.flush()
    } finally {
      exit(CRASH_EXIT_CODE)
    }
  }
  const onException = (err: unknown): void => crash(ErrorCode.UNCAUGHT_EXCEPTION, err)
  const onRejection = (reason: unknown): void => crash(ErrorCode.UNHANDLED_REJECTION, reason)
  process.on('uncaughtException', onException)
  process.on('unhandledRejection', onRejection)
  return () => {
    process.off('uncaughtException', onException)
    process.off('unhandledRejection', onRejection)
  }
}

/** Errors that escaped to the process while a fuzz suite ran; see {@link trapUncaught}. */
export interface UncaughtTrap {
  readonly errors: unknown[]
  release(): void
}

/**
 * Records every uncaught exception and unhandled rejection from now on, so a fuzz property
 * can fail on one by name rather than leave it to whichever test happens to be running.
 * Mocha's own handler still sees them too.
 */
export function trapUncaught(): UncaughtTrap {
  const errors: unknown[] = []
  const onError = (err: unknown): void => {
    errors.push(err)
  }
  process.on('uncaughtException', onError)
  process.on('unhandledRejection', onError)
  return {
    errors,
    release() {
      process.off('uncaughtException', onError)
      process.off('unhandledRejection', onError)
    },
  }
}

import { ErrorCode, GatewayError, wireCode } from '../shared/errors.js'
import { RegistrarErrorCode } from '../shared/registrar-api/registrar-error-code.js'
import { HttpError } from './http-error.js'
import type { OutcomeLabel } from './registrar-metrics.js'

/** The metric outcome of a failed operation: its error code, from a closed set. */
export function outcomeOf(err: unknown): OutcomeLabel {
  if (err instanceof HttpError) return err.wireCode
  if (isStoreDown(err)) return wireCode(RegistrarErrorCode.STORE_UNAVAILABLE)
  return wireCode(RegistrarErrorCode.INTERNAL_ERROR)
}

/** True for the store errors that mean "try again later" rather than a bug. */
export function isStoreDown(err: unknown): err is GatewayError {
  return (
    err instanceof GatewayError &&
    (err.code === ErrorCode.STORE_UNAVAILABLE || err.code === ErrorCode.STORE_CLOSED)
  )
}

/**
 * Runs `run` and reports its outcome to `record` once: `ok`, or the code of what it threw (which
 * is rethrown). Every route's counters go through here, so none is counted twice or forgotten.
 */
export async function countOutcome<T>(
  record: (outcome: OutcomeLabel) => void,
  run: () => Promise<T>,
): Promise<T> {
  let result: T
  try {
    result = await run()
  } catch (err) {
    record(outcomeOf(err))
    throw err
  }
  record('ok')
  return result
}

import { RegistrarErrorCode } from '../shared/registrar-api/registrar-error-code.js'
import type { RegistrarErrorCodeName } from '../shared/registrar-api/registrar-error-code.js'

/**
 * A refusal the registrar answers with `{ error, code }` and `status`. Thrown from hooks and
 * handlers; the error handler turns it into the response and the log line.
 */
export class HttpError extends Error {
  readonly status: number
  readonly code: RegistrarErrorCodeName
  /** Extra response headers, such as `Retry-After`. */
  readonly headers: Readonly<Record<string, string>>

  constructor(
    status: number,
    code: RegistrarErrorCodeName,
    message: string,
    headers: Readonly<Record<string, string>> = {},
  ) {
    super(message)
    this.name = 'HttpError'
    this.status = status
    this.code = code
    this.headers = headers
  }
}

/** 503 `store_unavailable` asking the caller to come back after `retryAfterSeconds`. */
export function storeUnavailable(retryAfterSeconds: number): HttpError {
  return new HttpError(
    503,
    RegistrarErrorCode.STORE_UNAVAILABLE,
    'the registration store is unavailable; nothing was changed, try again later',
    { 'retry-after': String(retryAfterSeconds) },
  )
}

/** 404 `relay_not_found`. */
export function relayNotFound(): HttpError {
  return new HttpError(
    404,
    RegistrarErrorCode.RELAY_NOT_FOUND,
    'no live registration for this relay',
  )
}

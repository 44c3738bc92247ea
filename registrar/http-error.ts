import { GatewayError, wireCode } from '../shared/errors.js'
import { RegistrarErrorCode } from '../shared/registrar-api/registrar-error-code.js'
import type {
  RegistrarErrorBody,
  RegistrarErrorCodeName,
  RegistrarWireCode,
} from '../shared/registrar-api/registrar-error-code.js'

/**
 * A refusal the registrar answers with `status` and `{ error, code }`: a GatewayError that also
 * carries its HTTP status. Thrown from hooks and handlers; the error handler turns it into the
 * response and the log line.
 */
export class HttpError extends GatewayError {
  declare readonly code: RegistrarErrorCodeName
  readonly status: number
  /** Extra response headers, such as `Retry-After`. */
  readonly headers: Readonly<Record<string, string>>

  constructor(
    status: number,
    code: RegistrarErrorCodeName,
    message: string,
    headers: Readonly<Record<string, string>> = {},
  ) {
    super(code, message)
    this.name = 'HttpError'
    this.status = status
    this.headers = headers
  }

  /** `code` as the answer, log lines and metric labels write it (`relay_not_found`). */
  get wireCode(): RegistrarWireCode {
    return wireCode(this.code)
  }

  /** The answer's JSON body. */
  body(): RegistrarErrorBody {
    return { error: this.message, code: this.wireCode }
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

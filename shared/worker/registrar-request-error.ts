import { ErrorCode, GatewayError, wireCode } from '../errors.js'
import type { ErrorCodeName } from '../errors.js'

/**
 * A registrar call that failed. `code` is the closest project-wide code (branch on it for
 * "what kind of failure"); `status` and `registrarCode` (the `code` of the registrar's JSON
 * answer, e.g. `replayed_nonce`) say exactly what the registrar answered, when it answered.
 */
export class RegistrarRequestError extends GatewayError {
  /** HTTP status, or null when no answer arrived. */
  readonly status: number | null
  /** `code` of the registrar's error body, or null when it sent none. */
  readonly registrarCode: string | null

  constructor(
    code: ErrorCodeName,
    message: string,
    options: { status?: number | null; registrarCode?: string | null; cause?: unknown } = {},
  ) {
    const status = options.status ?? null
    const registrarCode = options.registrarCode ?? null
    super(code, message, {
      cause: options.cause,
      details: { status, registrarCode },
    })
    this.name = 'RegistrarRequestError'
    this.status = status
    this.registrarCode = registrarCode
  }
}

const TOKEN_REFUSALS: ReadonlySet<string> = new Set(
  [ErrorCode.TOKEN_INVALID, ErrorCode.TOKEN_EXPIRED, ErrorCode.TOKEN_REVOKED].map(wireCode),
)

/**
 * The project-wide code for a registrar answer: a refused signature (bad, stale or replayed) is
 * SIGNATURE_INVALID, a refused token TOKEN_INVALID, an outage or rate limit STORE_UNAVAILABLE,
 * a missing or unreadable secret on the gateway CONFIG_INVALID and any other refusal
 * REGISTRAR_REJECTED.
 */
export function codeForAnswer(status: number, registrarCode: string | null): ErrorCodeName {
  if (registrarCode === wireCode(ErrorCode.NOT_CONFIGURED)) return ErrorCode.CONFIG_INVALID
  if (registrarCode === wireCode(ErrorCode.WORKER_SECRET_UNREADABLE))
    return ErrorCode.CONFIG_INVALID
  if (status === 401) return ErrorCode.SIGNATURE_INVALID
  if (status === 409 && registrarCode === wireCode(ErrorCode.REPLAYED_NONCE)) {
    return ErrorCode.SIGNATURE_INVALID
  }
  if (registrarCode !== null && TOKEN_REFUSALS.has(registrarCode)) return ErrorCode.TOKEN_INVALID
  if (status === 503 || status === 429) return ErrorCode.STORE_UNAVAILABLE
  return ErrorCode.REGISTRAR_REJECTED
}

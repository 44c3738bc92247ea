import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { RegistrarErrorCode } from '../shared/registrar-api/registrar-error-code.js'
import type {
  RegistrarErrorBody,
  RegistrarErrorCodeName,
} from '../shared/registrar-api/registrar-error-code.js'
import { HttpError, storeUnavailable } from './http-error.js'
import { isStoreDown } from './outcome.js'

// Fastify's own refusals (body parsing, URL decoding), mapped to our codes.
const FASTIFY_CODES: Readonly<Record<string, readonly [number, RegistrarErrorCodeName]>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, RegistrarErrorCode.BODY_TOO_LARGE],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, RegistrarErrorCode.INVALID_JSON],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, RegistrarErrorCode.INVALID_JSON],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, RegistrarErrorCode.INVALID_BODY],
  FST_ERR_BAD_URL: [400, RegistrarErrorCode.INVALID_BODY],
  FST_ERR_MAX_PARAM_LENGTH: [414, RegistrarErrorCode.INVALID_RELAY_KEY],
}

/**
 * Turns whatever a hook or handler threw into `{ error, code }` with the right status, and
 * logs the decision. Internal details never reach the answer, only the log.
 */
export function createErrorHandler(retryAfterSeconds: number) {
  return function handleError(
    err: FastifyError | Error,
    request: FastifyRequest,
    reply: FastifyReply,
  ): RegistrarErrorBody {
    const refusal = toHttpError(err, retryAfterSeconds)
    const route = request.routeOptions.url ?? 'unmatched'
    const fields = { status: refusal.status, code: refusal.wireCode, route, decision: 'rejected' }
    if (refusal.code === RegistrarErrorCode.INTERNAL_ERROR) {
      request.log.error({ ...fields, err }, 'request failed')
    } else if (refusal.status >= 500) {
      request.log.warn({ ...fields, err: { message: err.message } }, 'request refused')
    } else {
      request.log.info(fields, `request refused: ${refusal.message}`)
    }
    reply.code(refusal.status).headers(refusal.headers)
    return refusal.body()
  }
}

/** 404 `not_found` for every path and method the registrar does not serve. */
export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): RegistrarErrorBody {
  const refusal = new HttpError(
    404,
    RegistrarErrorCode.NOT_FOUND,
    `no route for ${request.method} on this path`,
  )
  request.log.info({ status: 404, code: refusal.wireCode }, 'no such route')
  reply.code(404)
  return refusal.body()
}

function toHttpError(err: FastifyError | Error, retryAfterSeconds: number): HttpError {
  if (err instanceof HttpError) return err
  if (isStoreDown(err)) return storeUnavailable(retryAfterSeconds)
  const known = 'code' in err && typeof err.code === 'string' ? FASTIFY_CODES[err.code] : undefined
  if (known !== undefined) {
    const [status, code] = known
    return new HttpError(status, code, describe(code))
  }
  // Any other client error fastify raises (e.g. a malformed request line) stays a 400.
  const status = 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : 500
  if (status >= 400 && status < 500) {
    return new HttpError(status, RegistrarErrorCode.INVALID_BODY, 'the request is malformed')
  }
  return new HttpError(500, RegistrarErrorCode.INTERNAL_ERROR, 'internal error')
}

function describe(code: RegistrarErrorCodeName): string {
  switch (code) {
    case RegistrarErrorCode.BODY_TOO_LARGE:
      return 'the request body is too large'
    case RegistrarErrorCode.INVALID_JSON:
      return 'the request body is not valid JSON'
    default:
      return 'the request is malformed'
  }
}

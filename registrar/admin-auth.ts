import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { MIN_ADMIN_TOKEN_BYTES } from '../shared/config/gateway-config.js'
import { ErrorCode, GatewayError } from '../shared/errors.js'
import { RegistrarErrorCode } from '../shared/registrar-api/registrar-error-code.js'
import { HttpError } from './http-error.js'

const BEARER = /^bearer\s+(.+)$/i

/** True when `token` is long enough to switch the admin API on. */
export function isUsableAdminToken(token: string): boolean {
  return Buffer.byteLength(token, 'utf8') >= MIN_ADMIN_TOKEN_BYTES
}

/**
 * The admin token check, or an error when the configuration is unsafe: the admin token must be
 * long enough and must not be the workers' registration secret (a worker would then be admin).
 *
 * @throws GatewayError `CONFIG_INVALID`
 */
export function adminTokenCheck(
  adminToken: string,
  workerSecret: string,
): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  if (!isUsableAdminToken(adminToken)) {
    throw new GatewayError(
      ErrorCode.CONFIG_INVALID,
      `GATEWAY_ADMIN_TOKEN must be at least ${MIN_ADMIN_TOKEN_BYTES} bytes long`,
    )
  }
  if (adminToken === workerSecret) {
    throw new GatewayError(
      ErrorCode.CONFIG_INVALID,
      'GATEWAY_ADMIN_TOKEN must differ from GATEWAY_REGISTRATION_SECRET',
    )
  }
  // Digests of equal length, so the comparison takes the same time whatever is sent.
  const expected = digest(adminToken)
  return async (request) => {
    const header = request.headers.authorization
    const sent = typeof header === 'string' ? BEARER.exec(header.trim())?.[1] : undefined
    if (sent === undefined || !timingSafeEqual(digest(sent), expected)) {
      throw new HttpError(
        401,
        RegistrarErrorCode.ADMIN_UNAUTHORIZED,
        'the admin API needs Authorization: Bearer <GATEWAY_ADMIN_TOKEN>',
        { 'www-authenticate': 'Bearer realm="hypertuna-admin"' },
      )
    }
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}

import { isWorkerId } from '../shared/auth/worker-credentials.js'
import { ErrorCode, GatewayError } from '../shared/errors.js'
import { RegistrarErrorCode } from '../shared/registrar-api/registrar-error-code.js'
import { HttpError, relayNotFound } from './http-error.js'
import { requireSecret } from './route-context.js'
import type { RouteContext } from './route-context.js'

/** Who signs a request: a worker account, or (workerId null) the legacy shared secret. */
export interface Signer {
  workerId: string | null
  secret: string
}

/**
 * The signer a request names (`workerId` absent: the shared secret) and the secret to check it
 * with. 401 `shared_secret_disabled` for the shared secret in multi-tenant mode; 400
 * `invalid_body` for a malformed id; see WorkerAccounts.secretOf for accounts.
 */
export async function signerOf(context: RouteContext, workerId: unknown): Promise<Signer> {
  if (workerId === undefined) {
    if (context.multiTenant) {
      throw new HttpError(
        401,
        RegistrarErrorCode.SHARED_SECRET_DISABLED,
        'this gateway accepts requests signed by a worker account only (workerId)',
      )
    }
    return { workerId: null, secret: requireSecret(context) }
  }
  if (!isWorkerId(workerId)) {
    throw new HttpError(400, RegistrarErrorCode.INVALID_BODY, 'workerId: must be 32 lowercase hex')
  }
  return { workerId, secret: await context.accounts.secretOf(workerId) }
}

/** 403 `relay_owned`. */
export function relayOwnedError(): HttpError {
  return new HttpError(
    403,
    RegistrarErrorCode.RELAY_OWNED,
    'this relay belongs to another registrant; only its owner may change it',
  )
}

/** The store's ownership refusals in the registrar's words; anything else unchanged. */
export function ownershipRefusal(err: unknown): unknown {
  if (!(err instanceof GatewayError) || err instanceof HttpError) return err
  if (err.code === ErrorCode.RELAY_OWNED) return relayOwnedError()
  if (err.code === ErrorCode.WORKER_DISABLED) {
    return new HttpError(403, RegistrarErrorCode.WORKER_DISABLED, 'the worker account is disabled')
  }
  return err
}

/**
 * Refuses (403 `relay_owned`) a signer acting on a relay it does not own: an owned relay is its
 * owner's alone, and an account acts only on relays it owns (404 when the relay is neither owned
 * nor registered). The shared secret acts on unowned relays, as workers in the field do.
 */
export async function assertMayActOn(
  context: RouteContext,
  relayKey: string,
  signer: Signer,
): Promise<void> {
  const owner = await context.store.getRelayOwner(relayKey)
  if (owner !== null) {
    if (owner.workerId === signer.workerId) return
    throw relayOwnedError()
  }
  if (signer.workerId === null) return
  if ((await context.store.getRegistration(relayKey)) !== null) throw relayOwnedError()
  throw relayNotFound()
}

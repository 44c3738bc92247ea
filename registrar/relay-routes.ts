import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify'
import {
  verifyDelete,
  verifyLegacyDelete,
  verifyRegistrationSignature,
} from '../shared/auth/registration-signature.js'
import { isWorkerId } from '../shared/auth/worker-credentials.js'
import {
  PUBLIC_URL_HEADER,
  REGISTRATION_TTL_HEADER,
  SignedHeader,
} from '../shared/registrar-api/registrar-capabilities.js'
import { ErrorCode, GatewayError } from '../shared/errors.js'
import { RegistrarErrorCode } from '../shared/registrar-api/registrar-error-code.js'
import {
  NONCE_PATTERN,
  SignedAction,
  verifySignedRequest,
} from '../shared/registrar-api/signed-request.js'
import type { Registration, RelayMetadata } from '../shared/store/gateway-store.js'
import { HttpError, relayNotFound } from './http-error.js'
import { countOutcome } from './outcome.js'
import type { SignedRoute } from './registrar-metrics.js'
import { parseWith, singleHeader } from './route-context.js'
import type { RouteContext } from './route-context.js'
import { assertMayActOn, ownershipRefusal, relayOwnedError, signerOf } from './signer.js'
import type { Signer } from './signer.js'
import {
  ISSUED_AT_HEADER,
  gatewayPathProblem,
  isRelayKey,
  registrationEnvelopeSchema,
  registrationSchema,
} from './schemas.js'
import type { RegistrationInput } from './schemas.js'

const OK = { status: 'ok' } as const
// Legacy deletes are logged once per relay and process; past this many relays the memory is
// reset, which at worst repeats a warning.
const MAX_WARNED_RELAYS = 10_000

type RelayRequest = FastifyRequest<{ Params: { relayKey: string } }>

/** Registers `POST /api/relays`, `GET` and `DELETE /api/relays/:relayKey`. */
export function registerRelayRoutes(app: FastifyInstance, context: RouteContext): void {
  const warnedLegacy = new Set<string>()

  app.post('/api/relays', async (request, reply) => {
    await countOutcome(
      (outcome) =>
        context.metrics.registrations.inc(
          outcome === 'ok'
            ? { outcome: 'accepted', reason: 'ok' }
            : { outcome: 'rejected', reason: outcome },
        ),
      () => register(context, request.body, request.log),
    )
    reply.header(REGISTRATION_TTL_HEADER, String(context.registrationTtlSeconds))
    // Where clients reach the gateway, so a worker can print its share URL.
    reply.header(PUBLIC_URL_HEADER, publicUrlOf(context, request))
    // Kit workers dial out to these keys; legacy workers ignore the extra field.
    return context.gateway.gatewayKeys.length > 0 ? { ...OK, gateway: context.gateway } : OK
  })

  app.get('/api/relays/:relayKey', async (request: RelayRequest) => {
    const relayKey = pathRelayKey(request)
    const { nonce, issuedAt, signature, workerId } = signedHeaders(context, request, 'get')
    const signer = await signerOf(context, workerId)
    const fields = withWorker({ relayKey, action: SignedAction.GET, nonce, issuedAt }, signer)
    if (!verifySignedRequest(signer.secret, fields, signature)) throw badSignature(context, 'get')
    context.guard.assertFresh('get', issuedAt, RegistrarErrorCode.STALE_REQUEST)
    await context.guard.useNonce('get', `get:${relayKey}`, nonce)
    await assertMayActOn(context, relayKey, signer)
    const registration = await context.store.getRegistration(relayKey)
    const ttlMs = registration === null ? null : await context.store.registrationTtl(relayKey)
    if (registration === null || ttlMs === null) throw relayNotFound()
    request.log.info({ relayKey, decision: 'accepted' }, 'registration read')
    return { status: 'ok', registration, ttlMs }
  })

  app.delete('/api/relays/:relayKey', async (request: RelayRequest) => {
    const replayProof =
      request.headers[SignedHeader.NONCE] !== undefined ||
      request.headers[SignedHeader.ISSUED_AT] !== undefined
    const form = replayProof ? 'signed' : 'legacy'
    await countOutcome(
      (outcome) => {
        context.metrics.deletes.inc({ form, outcome })
        if (!replayProof) context.metrics.legacyDeletes.inc({ outcome })
      },
      () =>
        replayProof ? signedDelete(context, request) : legacyDelete(context, request, warnedLegacy),
    )
    return OK
  })
}

async function register(context: RouteContext, body: unknown, log: FastifyBaseLogger) {
  const envelope = parseWith(registrationEnvelopeSchema, body)
  // The signature is checked over the body's own object, not the schema's copy of it.
  const raw = (body as { registration: Record<string, unknown> }).registration
  if (!isRelayKey(raw.relayKey)) throw invalidRelayKey()
  const signer = await signerOf(context, raw.workerId)
  if (envelope.signature === undefined) throw missingSignature(context, 'register')
  // Over the object exactly as parsed, unknown legacy fields included.
  if (!verifyRegistrationSignature(signer.secret, raw, envelope.signature)) {
    throw badSignature(context, 'register')
  }
  const input = parseWith(registrationSchema, raw)
  const { relayKey } = input
  context.guard.assertFresh('register', input.issuedAt, RegistrarErrorCode.STALE_REGISTRATION)
  const metadata = cleanMetadata(input)
  if (typeof metadata.gatewayPath === 'string') {
    await assertGatewayPathFree(context, relayKey, metadata.gatewayPath, signer)
  }
  await context.guard.useNonce('register', `register:${relayKey}`, input.nonce)
  const now = context.now()
  const registration: Registration = {
    relayKey,
    peers: input.peers,
    metadata,
    nonce: input.nonce,
    issuedAt: input.issuedAt,
    registeredAt: now,
    expiresAt: now + context.registrationTtlSeconds * 1000,
  }
  // The check above spares a nonce in the common case; this one settles a race atomically.
  const options = { exclusiveAlias: true, workerId: signer.workerId }
  await context.store
    .putRegistration(registration, context.registrationTtlSeconds, options)
    .catch((err: unknown) => {
      // The store's refusals, in the registrar's words (status, message).
      const taken = err instanceof GatewayError && err.code === ErrorCode.GATEWAY_PATH_TAKEN
      throw taken ? pathTaken() : ownershipRefusal(err)
    })
  log.info(
    {
      relayKey,
      workerId: signer.workerId ?? undefined,
      peers: input.peers.length,
      gatewayPath: metadata.gatewayPath,
      decision: 'accepted',
    },
    'registration accepted',
  )
}

// null stands for "absent" in legacy metadata; dropping it keeps one spelling in the store.
function cleanMetadata(input: RegistrationInput): RelayMetadata {
  const metadata: RelayMetadata = {}
  for (const [field, value] of Object.entries(input.metadata ?? {})) {
    if (value !== null && value !== undefined) metadata[field] = value
  }
  return metadata
}

async function assertGatewayPathFree(
  context: RouteContext,
  relayKey: string,
  path: string,
  signer: Signer,
) {
  const problem = gatewayPathProblem(path, relayKey)
  if (problem !== null) {
    throw new HttpError(400, RegistrarErrorCode.INVALID_GATEWAY_PATH, problem)
  }
  const holder = await context.store.resolveRelay(path)
  if (holder === null || holder.relayKey === relayKey) return
  // Another registrant's relay: not merely taken, owned (the store settles lapsed claims).
  if (holder.workerId !== undefined && holder.workerId !== signer.workerId) {
    throw relayOwnedError()
  }
  throw pathTaken()
}

function pathTaken(): HttpError {
  return new HttpError(
    409,
    RegistrarErrorCode.GATEWAY_PATH_TAKEN,
    'another relay already uses this gatewayPath',
  )
}

async function signedDelete(context: RouteContext, request: RelayRequest): Promise<void> {
  const relayKey = pathRelayKey(request)
  const { nonce, issuedAt, signature, workerId } = signedHeaders(context, request, 'delete')
  const signer = await signerOf(context, workerId)
  // An account signs the signDelete object plus its workerId; the shared secret, signDelete's.
  const valid =
    signer.workerId === null
      ? verifyDelete(signer.secret, { relayKey, nonce, issuedAt }, signature)
      : verifySignedRequest(
          signer.secret,
          withWorker({ relayKey, action: SignedAction.DELETE, nonce, issuedAt }, signer),
          signature,
        )
  if (!valid) throw badSignature(context, 'delete')
  context.guard.assertFresh('delete', issuedAt, RegistrarErrorCode.STALE_REQUEST)
  await context.guard.useNonce('delete', `delete:${relayKey}`, nonce)
  const removed = await context.store
    .removeRegistration(relayKey, { workerId: signer.workerId })
    .catch((err: unknown) => {
      throw ownershipRefusal(err)
    })
  if (!removed) throw relayNotFound()
  request.log.info(
    { relayKey, workerId: signer.workerId ?? undefined, form: 'signed', decision: 'accepted' },
    'relay removed',
  )
}

// Legacy: answers 200 whether or not the relay was still registered, as the legacy registrar
// did; a worker retrying a delete whose answer it lost must not see an error.
async function legacyDelete(
  context: RouteContext,
  request: RelayRequest,
  warned: Set<string>,
): Promise<void> {
  const relayKey = pathRelayKey(request)
  const { secret } = await signerOf(context, undefined)
  if (!context.legacyDelete) {
    throw new HttpError(
      401,
      RegistrarErrorCode.LEGACY_DELETE_DISABLED,
      'the legacy DELETE signature is not accepted here; sign with x-nonce and x-issued-at',
    )
  }
  const signature = singleHeader(request.headers[SignedHeader.SIGNATURE])
  if (signature === undefined) throw missingSignature(context, 'legacy_delete')
  if (!verifyLegacyDelete(secret, relayKey, signature)) {
    throw badSignature(context, 'legacy_delete')
  }
  const removed = await context.store
    .removeRegistration(relayKey, { workerId: null })
    .catch((err: unknown) => {
      throw ownershipRefusal(err)
    })
  if (!warned.has(relayKey)) {
    if (warned.size >= MAX_WARNED_RELAYS) warned.clear()
    warned.add(relayKey)
    request.log.warn(
      { relayKey, form: 'legacy' },
      'legacy DELETE signature used: it can be replayed forever; move the worker to the replay-proof form',
    )
  }
  request.log.info({ relayKey, form: 'legacy', removed, decision: 'accepted' }, 'relay removed')
}

/**
 * The gateway's public base URL: configured, else (behind Caddy) protocol and host from
 * X-Forwarded-*, believed from trusted proxies only.
 */
export function publicUrlOf(context: RouteContext, request: FastifyRequest): string {
  if (context.publicUrl !== '') return context.publicUrl.replace(/\/+$/, '')
  return `${request.protocol}://${request.host}`
}

function pathRelayKey(request: RelayRequest): string {
  const { relayKey } = request.params
  if (!isRelayKey(relayKey)) throw invalidRelayKey()
  return relayKey
}

// Shape problems of the signing headers are 400s; only a missing signature is a 401.
function signedHeaders(context: RouteContext, request: RelayRequest, route: SignedRoute) {
  const nonce = singleHeader(request.headers[SignedHeader.NONCE])
  const issuedAtText = singleHeader(request.headers[SignedHeader.ISSUED_AT])
  const signature = singleHeader(request.headers[SignedHeader.SIGNATURE])
  const workerId = singleHeader(request.headers[SignedHeader.WORKER_ID])
  if (workerId !== undefined && !isWorkerId(workerId)) {
    throw new HttpError(
      400,
      RegistrarErrorCode.INVALID_BODY,
      'x-worker-id must be 32 lowercase hex characters',
    )
  }
  if (nonce === undefined || !NONCE_PATTERN.test(nonce)) {
    throw new HttpError(
      400,
      RegistrarErrorCode.INVALID_BODY,
      'x-nonce must be 8-128 characters of [A-Za-z0-9_-]',
    )
  }
  if (issuedAtText === undefined || !ISSUED_AT_HEADER.test(issuedAtText)) {
    throw new HttpError(
      400,
      RegistrarErrorCode.INVALID_BODY,
      'x-issued-at must be integer milliseconds since the epoch',
    )
  }
  if (signature === undefined) throw missingSignature(context, route)
  return { nonce, issuedAt: Number(issuedAtText), signature, workerId }
}

// An account's signed object names it, so a signature never stands for another signer.
function withWorker<T extends object>(fields: T, signer: Signer): T & { workerId?: string } {
  return signer.workerId === null ? fields : { ...fields, workerId: signer.workerId }
}

function invalidRelayKey(): HttpError {
  return new HttpError(
    400,
    RegistrarErrorCode.INVALID_RELAY_KEY,
    'relayKey must be 64 lowercase hex characters or <npub>:<name>',
  )
}

function missingSignature(context: RouteContext, route: SignedRoute): HttpError {
  context.metrics.signatureFailures.inc({ route })
  return new HttpError(401, RegistrarErrorCode.SIGNATURE_MISSING, 'a signature is required')
}

function badSignature(context: RouteContext, route: SignedRoute): HttpError {
  context.metrics.signatureFailures.inc({ route })
  return new HttpError(401, RegistrarErrorCode.SIGNATURE_INVALID, 'the signature does not match')
}

import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { z } from 'zod'
import { issueClientToken, verifyClientToken } from '../shared/auth/client-token.js'
import type { ClientTokenPayload } from '../shared/auth/client-token.js'
import { RegistrarErrorCode } from '../shared/registrar-api/registrar-error-code.js'
import { verifySignedRequest } from '../shared/registrar-api/signed-request.js'
import { isTokenRevoked } from '../shared/store/gateway-store.js'
import { HttpError, relayNotFound } from './http-error.js'
import { countOutcome } from './outcome.js'
import type { TokenOperation } from './registrar-metrics.js'
import { parseWith } from './route-context.js'
import type { RouteContext } from './route-context.js'
import { assertMayActOn, signerOf } from './signer.js'
import { isRelayKey, tokenIssueSchema, tokenRefreshSchema, tokenRevokeSchema } from './schemas.js'

type TokenRequest = FastifyRequest<{ Params: { relayKey: string } }>
type SignedBody = {
  relayKey: string
  action: string
  nonce: string
  issuedAt: number
  workerId?: string | undefined
}

/** A token the registrar handed out, as answered to the worker. */
export interface IssuedToken {
  status: 'ok'
  token: string
  issuedAt: number
  expiresAt: number
  seq: number
  /** Present on a per-user token: the person it names. */
  pubkey?: string
}

/** Who a per-user token is for; empty for a share link. */
interface Person {
  pubkey?: string
  relayAuthToken?: string
}

/**
 * Registers the worker-signed token lifecycle under `/api/relays/:relayKey/tokens`: issue,
 * refresh and revoke. Tokens are legacy-format client tokens (docs/protocol.md section 5) with an
 * extra `seq`, so the proxy verifies them like worker-minted ones and revocation can cut off
 * every token issued before it. An issue request may name a person (`pubkey`) and the worker's
 * credential for them (`relayAuthToken`), as later Hypertuna versions mint per-user tokens; a
 * refresh keeps both.
 */
export function registerTokenRoutes(app: FastifyInstance, context: RouteContext): void {
  const counted = <T>(kind: TokenOperation, run: () => Promise<T>): Promise<T> =>
    countOutcome((outcome) => context.metrics.tokenOperations.inc({ kind, outcome }), run)

  app.post('/api/relays/:relayKey/tokens', (request: TokenRequest) =>
    counted('issue', async () => {
      const { body, secret } = await authenticate(context, request, tokenIssueSchema)
      const ttlSeconds = tokenTtl(context, body.ttl)
      await requireRegistration(context, body.relayKey)
      const person = personOf(body)
      return issueLogged(
        context,
        request,
        secret,
        body.relayKey,
        ttlSeconds,
        person,
        'token issued',
      )
    }),
  )

  app.post('/api/relays/:relayKey/tokens/refresh', (request: TokenRequest) =>
    counted('refresh', async () => {
      const { body, secret } = await authenticate(context, request, tokenRefreshSchema)
      const old = checkToken(context, secret, body.relayKey, body.token)
      const ttlSeconds = tokenTtl(context, body.ttl ?? lifetimeSeconds(old, context))
      await requireRegistration(context, body.relayKey)
      if (isTokenRevoked(await context.store.getTokenState(body.relayKey), old)) {
        throw new HttpError(403, RegistrarErrorCode.TOKEN_REVOKED, 'the token was revoked')
      }
      const person = personOf(old)
      return issueLogged(
        context,
        request,
        secret,
        body.relayKey,
        ttlSeconds,
        person,
        'token refreshed',
      )
    }),
  )

  app.post('/api/relays/:relayKey/tokens/revoke', (request: TokenRequest) =>
    counted('revoke', async () => {
      const { body } = await authenticate(context, request, tokenRevokeSchema)
      const state = await context.store.revokeTokens(body.relayKey, context.now())
      request.log.info(
        { relayKey: body.relayKey, minSeq: state.minSeq, decision: 'accepted' },
        'tokens revoked',
      )
      return { status: 'ok' as const, revokedAt: state.revokedAt, minSeq: state.minSeq }
    }),
  )
}

// Shape, then signature (over every field but `signature`, with the signer's secret), then
// freshness and nonce: only a correctly signed request may use up a nonce. Then ownership:
// tokens of an owned relay are its owner's to mint (with its secret) and revoke.
async function authenticate<T extends SignedBody>(
  context: RouteContext,
  request: TokenRequest,
  schema: z.ZodType<T>,
): Promise<{ body: T; secret: string }> {
  if (!isRelayKey(request.params.relayKey)) {
    throw new HttpError(
      400,
      RegistrarErrorCode.INVALID_RELAY_KEY,
      'relayKey must be 64 lowercase hex characters or <npub>:<name>',
    )
  }
  const signer = await signerOf(context, (request.body as { workerId?: unknown })?.workerId)
  const { secret } = signer
  const body = parseWith(schema, request.body)
  if (body.relayKey !== request.params.relayKey) {
    throw new HttpError(
      400,
      RegistrarErrorCode.INVALID_BODY,
      'relayKey: must equal the relay key in the path',
    )
  }
  const { signature, ...fields } = request.body as Record<string, unknown>
  if (!verifySignedRequest(secret, fields, signature)) {
    context.metrics.signatureFailures.inc({ route: 'token' })
    throw new HttpError(401, RegistrarErrorCode.SIGNATURE_INVALID, 'the signature does not match')
  }
  context.guard.assertFresh('token', body.issuedAt, RegistrarErrorCode.STALE_REQUEST)
  await context.guard.useNonce('token', `${body.action}:${body.relayKey}`, body.nonce)
  await assertMayActOn(context, body.relayKey, signer)
  return { body, secret }
}

function tokenTtl(context: RouteContext, requested: number | undefined): number {
  const ttl = requested ?? context.tokenDefaultTtlSeconds
  if (ttl > context.tokenMaxTtlSeconds) {
    throw new HttpError(
      400,
      RegistrarErrorCode.TTL_TOO_LONG,
      `ttl must be at most ${context.tokenMaxTtlSeconds} seconds`,
    )
  }
  return ttl
}

// A refreshed token keeps the lifetime the old one was given, within today's maximum.
function lifetimeSeconds(old: ClientTokenPayload, context: RouteContext): number | undefined {
  if (old.expiresAt === undefined || old.issuedAt === undefined) return undefined
  const seconds = Math.ceil((old.expiresAt - old.issuedAt) / 1000)
  return seconds > 0 ? Math.min(seconds, context.tokenMaxTtlSeconds) : undefined
}

function checkToken(
  context: RouteContext,
  secret: string,
  relayKey: string,
  token: string,
): ClientTokenPayload {
  const result = verifyClientToken(secret, token, { relayKey, now: context.now() })
  if (result.ok) return result.payload
  if (result.reason === 'expired') {
    throw new HttpError(403, RegistrarErrorCode.TOKEN_EXPIRED, 'the token has expired')
  }
  throw new HttpError(
    403,
    RegistrarErrorCode.TOKEN_INVALID,
    'the token is not a valid token for this relay',
  )
}

// Only well-formed person fields pass: a legacy token's stray `pubkey` is not carried over.
function personOf(fields: { pubkey?: unknown; relayAuthToken?: unknown }): Person {
  const person: Person = {}
  if (typeof fields.pubkey === 'string' && /^[0-9a-f]{64}$/.test(fields.pubkey)) {
    person.pubkey = fields.pubkey
  }
  if (typeof fields.relayAuthToken === 'string' && fields.relayAuthToken !== '') {
    person.relayAuthToken = fields.relayAuthToken
  }
  return person
}

async function issue(
  context: RouteContext,
  secret: string,
  relayKey: string,
  ttlSeconds: number,
  person: Person,
): Promise<IssuedToken> {
  const seq = await context.store.nextTokenSeq(relayKey)
  const issuedAt = context.now()
  const expiresAt = issuedAt + ttlSeconds * 1000
  const token = issueClientToken(secret, {
    relayKey,
    issuedAt,
    expiresAt,
    extra: { seq },
    ...person,
  })
  const issued: IssuedToken = { status: 'ok', token, issuedAt, expiresAt, seq }
  if (person.pubkey !== undefined) issued.pubkey = person.pubkey
  return issued
}

async function requireRegistration(context: RouteContext, relayKey: string): Promise<void> {
  if ((await context.store.getRegistration(relayKey)) === null) throw relayNotFound()
}

async function issueLogged(
  context: RouteContext,
  request: TokenRequest,
  secret: string,
  relayKey: string,
  ttlSeconds: number,
  person: Person,
  what: string,
): Promise<IssuedToken> {
  const issued = await issue(context, secret, relayKey, ttlSeconds, person)
  // The pubkey is public; the worker's credential is a secret and never logged.
  request.log.info(
    { relayKey, seq: issued.seq, ttlSeconds, pubkey: person.pubkey, decision: 'accepted' },
    what,
  )
  return issued
}

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { issueClientToken } from '../shared/auth/client-token.js'
import { RegistrarErrorCode } from '../shared/registrar-api/registrar-error-code.js'
import type { Registration } from '../shared/store/gateway-store.js'
import { adminTokenCheck } from './admin-auth.js'
import { registerAdminWorkerRoutes } from './admin-worker-routes.js'
import { gatewayStatus, pageOf, peerViews, relaySessions, relaySummary } from './admin-views.js'
import type { RelayDetail } from './admin-views.js'
import { notFoundHandler } from './error-handler.js'
import { HttpError, relayNotFound } from './http-error.js'
import { publicUrlOf } from './relay-routes.js'
import { parseWith } from './route-context.js'
import type { RouteContext } from './route-context.js'
import { signerOf } from './signer.js'

/** Where the admin API lives (behind Caddy's `/api`). */
export const ADMIN_PREFIX = '/api/admin'

const MAX_PAGE = 500
const DEFAULT_PAGE = 50

const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).optional(),
  cursor: z.string().min(1).max(512).optional(),
})
const tokenBody = z
  .strictObject({ ttl: z.number().int().positive().optional() })
  .optional()
  .default({})

type RelayRequest = FastifyRequest<{ Params: { relayKey: string } }>

/**
 * Registers the operators' API under `/api/admin/` (docs/registrar.md): relays (paged list,
 * one relay with its peers as the proxies report them, removal), tokens (issue, revoke), live
 * sessions and a gateway summary. Every call needs `Authorization: Bearer <adminToken>` and
 * leaves one `audit` log line, refused calls included; no token or secret is ever in it.
 *
 * @throws GatewayError `CONFIG_INVALID` for a short admin token or one equal to the secret.
 */
export function registerAdminRoutes(
  app: FastifyInstance,
  context: RouteContext,
  adminToken: string,
): void {
  const check = adminTokenCheck(adminToken, context.secret)
  const { store } = context

  void app.register(
    async (admin) => {
      admin.addHook('onRequest', check)
      admin.addHook('onResponse', audit)
      // Unknown admin paths need the token too (no probing for route names), and are audited.
      admin.setNotFoundHandler(notFoundHandler)

      admin.get('/status', async () => {
        const [relays, reports] = await Promise.all([
          store.listRegistrations(),
          store.listProxyReports(),
        ])
        return { status: 'ok', ...gatewayStatus(relays.length, reports) }
      })

      admin.get('/relays', async (request) => {
        const query = parseWith(listQuery, request.query)
        const [relays, reports] = await Promise.all([
          store.listRegistrations(),
          store.listProxyReports(),
        ])
        const page = pageOf(
          relays.map((r) => relaySummary(r, reports)),
          query.limit ?? DEFAULT_PAGE,
          query.cursor,
        )
        return {
          status: 'ok',
          total: relays.length,
          relays: page.items,
          nextCursor: page.nextCursor,
        }
      })

      admin.get('/relays/:relayKey', async (request: RelayRequest) => {
        const registration = await resolve(context, request)
        const [ttlMs, reports, usage, tokens] = await Promise.all([
          store.registrationTtl(registration.relayKey),
          store.listProxyReports(),
          store.getUsage(`relay:${registration.relayKey}`),
          store.getTokenState(registration.relayKey),
        ])
        if (ttlMs === null) throw relayNotFound()
        const detail: RelayDetail = {
          registration,
          ttlMs,
          peers: peerViews(registration, reports),
          sessions: relaySessions(registration.relayKey, reports),
          usage,
          tokens,
        }
        return { status: 'ok', ...detail }
      })

      admin.delete('/relays/:relayKey', async (request: RelayRequest) => {
        const registration = await resolve(context, request)
        if (!(await store.removeRegistration(registration.relayKey))) throw relayNotFound()
        return { status: 'ok', relayKey: registration.relayKey, removed: true }
      })

      admin.post('/relays/:relayKey/tokens', async (request: RelayRequest) => {
        const body = parseWith(tokenBody, request.body)
        const ttlSeconds = body.ttl ?? context.tokenDefaultTtlSeconds
        if (ttlSeconds > context.tokenMaxTtlSeconds) {
          throw new HttpError(
            400,
            RegistrarErrorCode.TTL_TOO_LONG,
            `ttl must be at most ${context.tokenMaxTtlSeconds} seconds`,
          )
        }
        const { relayKey } = await resolve(context, request)
        // The proxy checks an owned relay's tokens with its owner's secret.
        const owner = await store.getRelayOwner(relayKey)
        const secret =
          owner === null
            ? await sharedSecret(context)
            : await context.accounts.secretOf(owner.workerId)
        const seq = await store.nextTokenSeq(relayKey)
        const issuedAt = context.now()
        const expiresAt = issuedAt + ttlSeconds * 1000
        const token = issueClientToken(secret, { relayKey, issuedAt, expiresAt, extra: { seq } })
        const publicUrl = publicUrlOf(context, request)
        return { status: 'ok', relayKey, token, issuedAt, expiresAt, seq, publicUrl }
      })

      admin.post('/relays/:relayKey/tokens/revoke', async (request: RelayRequest) => {
        const { relayKey } = await resolve(context, request)
        const state = await store.revokeTokens(relayKey, context.now())
        return { status: 'ok', relayKey, revokedAt: state.revokedAt, minSeq: state.minSeq }
      })

      registerAdminWorkerRoutes(admin, context)

      admin.get('/sessions', async () => {
        const reports = await store.listProxyReports()
        const relays: Record<string, number> = {}
        for (const report of reports) {
          for (const [relayKey, n] of Object.entries(report.relays)) {
            relays[relayKey] = (relays[relayKey] ?? 0) + n
          }
        }
        const total = reports.reduce((n, r) => n + r.sessions, 0)
        return { status: 'ok', total, relays }
      })
    },
    { prefix: ADMIN_PREFIX },
  )
}

// Admin-minted tokens of unowned relays use the shared secret, which multi-tenant mode refuses.
async function sharedSecret(context: RouteContext): Promise<string> {
  return (await signerOf(context, undefined)).secret
}

// By relay key or gatewayPath alias, as clients name relays.
async function resolve(context: RouteContext, request: RelayRequest): Promise<Registration> {
  const id = request.params.relayKey
  const registration = await context.store.resolveRelay(id)
  if (registration === null) throw relayNotFound()
  return registration
}

// One line per admin call, after the answer: who (address), what (route, relay), the outcome.
// Bodies and headers are never logged: the answer of an issue call carries a token.
async function audit(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const params = request.params as { relayKey?: unknown; workerId?: unknown } | undefined
  request.log.info(
    {
      audit: 'admin',
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      relayKey: typeof params?.relayKey === 'string' ? params.relayKey : undefined,
      workerId: typeof params?.workerId === 'string' ? params.workerId : undefined,
      ip: request.ip,
      statusCode: reply.statusCode,
      decision: reply.statusCode < 400 ? 'accepted' : 'rejected',
    },
    'admin call',
  )
}

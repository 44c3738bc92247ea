import { isUsableSecret } from '../shared/auth/hmac.js'
import { RegistrarErrorCode } from '../shared/registrar-api/registrar-error-code.js'
import type { GatewayStore } from '../shared/store/gateway-store.js'
import type { GatewayDocument } from '../shared/worker/gateway-document.js'
import type { z } from 'zod'
import { HttpError } from './http-error.js'
import type { RegistrarMetrics } from './registrar-metrics.js'
import type { ReplayGuard } from './replay-guard.js'
import type { WorkerAccounts } from './worker-accounts.js'

/** What the route modules share: settings, store, metrics and the replay guard. */
export interface RouteContext {
  /** Shared secret; an unusable one (e.g. empty) means "not configured". */
  secret: string
  registrationTtlSeconds: number
  legacyDelete: boolean
  tokenDefaultTtlSeconds: number
  tokenMaxTtlSeconds: number
  /** The gateway's public URL for workers' share URLs; empty: from the request's Host. */
  publicUrl: string
  store: GatewayStore
  metrics: RegistrarMetrics
  guard: ReplayGuard
  now: () => number
  /** The gateway document (GET /api/gateway), also sent in registration answers. */
  gateway: GatewayDocument
  /** Multi-tenant mode: the shared secret is refused everywhere. */
  multiTenant: boolean
  accounts: WorkerAccounts
}

const MAX_MESSAGE = 200

/** The secret, or 503 `not_configured` (docs/protocol.md section 4) when there is none. */
export function requireSecret(context: RouteContext): string {
  if (isUsableSecret(context.secret)) return context.secret
  throw new HttpError(
    503,
    RegistrarErrorCode.NOT_CONFIGURED,
    'registration is not configured on this gateway',
  )
}

/** Parses `value` with `schema`, or throws 400 `invalid_body` naming the first problem. */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value)
  if (result.success) return result.data
  const issue = result.error.issues[0]
  const where = issue === undefined || issue.path.length === 0 ? 'body' : issue.path.join('.')
  // Messages may quote unrecognised keys from the request: keep them short.
  const text = `${where}: ${issue?.message ?? 'invalid'}`.slice(0, MAX_MESSAGE)
  throw new HttpError(400, RegistrarErrorCode.INVALID_BODY, text)
}

/** A single-valued request header, or undefined when absent or repeated. */
export function singleHeader(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined
}

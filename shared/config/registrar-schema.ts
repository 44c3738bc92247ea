import type convict from 'convict'
import type { GatewayConfig } from './gateway-config.js'
import { MIN_SECRET_BYTES, MIN_ADMIN_TOKEN_BYTES } from './gateway-config.js'
import { ErrorCode } from '../errors.js'

/** Registration API listener and request checks. */
export const registrarSchema: convict.Schema<GatewayConfig['registrar']> = {
  host: {
    doc: 'Address the registration API (/api/relays) listens on, behind Caddy.',
    format: 'non-empty-string',
    default: '127.0.0.1',
    env: 'GATEWAY_REGISTRAR_HOST',
  },
  port: {
    doc: 'TCP port of the registration API. 0 picks a free port.',
    format: 'port',
    default: 8081,
    env: 'GATEWAY_REGISTRAR_PORT',
  },
  maxSkewSeconds: {
    doc: "How far a registration's issuedAt may be from the registrar's clock, in seconds.",
    format: 'positive-int',
    default: 300,
    env: 'GATEWAY_REGISTRAR_MAX_SKEW_SECONDS',
  },
  legacyDelete: {
    doc: 'Accept the legacy DELETE signature (replayable forever; counted in metrics). Set false once every worker uses the replay-proof form.',
    format: 'bool',
    default: true,
    env: 'GATEWAY_REGISTRAR_LEGACY_DELETE',
  },
  rateLimitPerMinute: {
    doc: 'Requests per minute one client IP may make to the registration API.',
    format: 'positive-int',
    default: 120,
    env: 'GATEWAY_REGISTRAR_RATE_LIMIT',
  },
  bodyLimitBytes: {
    doc: 'Largest JSON body the registration API accepts, in bytes.',
    format: 'positive-int',
    default: 262144,
    env: 'GATEWAY_REGISTRAR_BODY_LIMIT',
  },
  gatewayKeys: {
    doc:
      'Comma-separated swarm public keys (64 hex) of the proxies, published in GET /api/gateway and ' +
      'in registration answers so kit workers dial out to them. Empty: the key derived from ' +
      'GATEWAY_HYPERSWARM_SEED (one proxy sharing the seed), or none when no seed is set.',
    format: 'hex32-list',
    default: [],
    env: 'GATEWAY_REGISTRAR_GATEWAY_KEYS',
  },
}

/** Registration secret, lifetime and the shared store. */
export const registrationSchema: convict.Schema<GatewayConfig['registration']> = {
  secret: {
    doc:
      'Shared secret for registration signatures and client tokens (HMAC-SHA256), the same value the ' +
      `workers use. At least ${MIN_SECRET_BYTES} bytes. Empty: registration is not configured and the ` +
      'registrar answers 503.',
    format: 'secret-or-empty',
    default: '',
    env: 'GATEWAY_REGISTRATION_SECRET',
    sensitive: true,
    failureCode: ErrorCode.SECRET_TOO_SHORT,
  },
  ttl: {
    doc: 'Seconds a relay registration lives unless the worker renews it.',
    format: 'positive-int',
    default: 300,
    env: 'GATEWAY_REGISTRATION_TTL',
  },
  redisUrl: {
    doc:
      'Redis URL (redis:// or rediss://) of the shared registration store, needed when more than one ' +
      'gateway process serves the same relays. May contain a password. Empty: in-memory store.',
    format: 'redis-url-or-empty',
    default: '',
    env: 'GATEWAY_REGISTRATION_REDIS',
    sensitive: true,
  },
  redisPrefix: {
    doc: 'Prefix of every Redis key the registration store writes.',
    format: 'non-empty-string',
    default: 'gateway:registrations:',
    env: 'GATEWAY_REGISTRATION_REDIS_PREFIX',
  },
  workerSecretKey: {
    doc:
      "AES-256-GCM key (64 hex) sealing worker accounts' signing secrets in the store; registrar and " +
      'proxy need the same value. Empty: worker accounts are off (POST /api/admin/workers answers 503).',
    format: 'hex32-or-empty',
    default: '',
    env: 'GATEWAY_WORKER_SECRET_KEY',
    sensitive: true,
  },
  multiTenant: {
    doc:
      'Multi-tenant mode: the shared GATEWAY_REGISTRATION_SECRET is refused for every registration, delete, ' +
      'token and client token; only worker accounts sign. Needs GATEWAY_WORKER_SECRET_KEY.',
    format: 'bool',
    default: false,
    env: 'GATEWAY_MULTI_TENANT',
  },
}

/** Lifetimes of client tokens. */
export const tokenSchema: convict.Schema<GatewayConfig['token']> = {
  defaultTtl: {
    doc: 'Seconds a client token minted by the gateway stays valid when no lifetime is requested.',
    format: 'positive-int',
    default: 3600,
    env: 'GATEWAY_DEFAULT_TOKEN_TTL',
  },
  maxTtl: {
    doc: 'Longest lifetime, in seconds, a worker may request for a token the registrar issues.',
    format: 'positive-int',
    default: 604800,
    env: 'GATEWAY_MAX_TOKEN_TTL',
  },
}

/** Admin API access. */
export const adminSchema: convict.Schema<GatewayConfig['admin']> = {
  token: {
    doc:
      'Bearer token of the registrar admin API (/api/admin/*, the hypertuna-gateway CLI), at least ' +
      `${MIN_ADMIN_TOKEN_BYTES} bytes and different from the registration secret. Empty: the admin API is off.`,
    format: 'admin-token-or-empty',
    default: '',
    env: 'GATEWAY_ADMIN_TOKEN',
    sensitive: true,
    failureCode: ErrorCode.SECRET_TOO_SHORT,
  },
}

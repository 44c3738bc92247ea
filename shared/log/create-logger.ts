import pino from 'pino'
import type { DestinationStream, LevelWithSilent, Logger, LoggerOptions } from 'pino'
import { redactQuery, redactQueryObject } from './redact-query.js'

export type { Logger } from 'pino'

/** What redacted values are replaced with, in fields and in URLs alike. */
export const REDACTED = '[REDACTED]'

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  level: LevelWithSilent
  /** Process or subsystem name, written as `name` on every line. */
  name: string
  /** Where JSON lines go; stdout when omitted. Tests pass a sink here. */
  destination?: DestinationStream
}

// Field names whose value is a credential wherever they appear (top level or one level down).
const SECRET_FIELDS = ['token', 'secret', 'signature', 'password', 'redisUrl', 'seed']
const SECRET_HEADERS = [
  'authorization',
  'proxy-authorization',
  'x-auth-token',
  'x-signature',
  'cookie',
  'set-cookie',
]
// A logged GatewayConfig keeps its nesting, deeper than the one-level scan reaches.
const CONFIG_SECRETS = ['registration.secret', 'registration.redisUrl', 'hyperswarm.seed']

// Only literal paths: pino applies one to its top-level key alone, so it costs nothing on lines
// without that key. Leading wildcards (`*.token`) run on every key of every line, ~0.5 µs per
// path; censorOneLevelDown gives the same coverage far cheaper.
const REDACT_PATHS = [
  ...SECRET_FIELDS,
  ...SECRET_HEADERS.map((name) => `headers["${name}"]`),
  ...CONFIG_SECRETS.map((path) => `config.${path}`),
]

// Query/fragment parameters whose name ends in one of these words (token, access_token, ...).
// The value runs to the next separator; quotes and backslashes end it too, so a match inside a
// serialized JSON line never swallows the closing quote.
const SECRET_PARAM = /((?:token|secret|signature|password)=)[^&#;\s"'\\<>]*/gi
// user:password@ in URLs such as redis://user:password@host.
const USERINFO_PASSWORD = /(\/\/[^/\s:@"'\\]*:)[^/\s@"'\\]+@/g

/**
 * Replaces the values of `token=` (and `secret=`, `signature=`, `password=`) parameters and
 * URL passwords with `[REDACTED]`, keeping the rest of the string. Accepts any text, not only
 * well-formed URLs.
 */
export function redactUrl(url: string): string {
  // Cheap guard: most strings have neither character and skip both regex passes.
  if (!url.includes('=') && !url.includes('@')) return url
  return url.replace(SECRET_PARAM, `$1${REDACTED}`).replace(USERINFO_PASSWORD, `$1${REDACTED}@`)
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

// Copy-on-write: returns `source` itself when nothing matched, else a shallow copy with `names`
// censored. The caller's objects are never mutated. A plain-object value is a group of settings
// (e.g. GatewayConfig's `token` section), not a credential, and is left alone.
function censorFields<T extends Record<string, unknown>>(source: T, names: readonly string[]): T {
  let out = source
  for (const name of names) {
    const value = source[name]
    if (value === undefined || isPlainObject(value) || !Object.hasOwn(source, name)) continue
    const copy: Record<string, unknown> = out === source ? { ...source } : out
    copy[name] = REDACTED
    out = copy as T
  }
  return out
}

// Secret fields and headers one level below the top (`session.token`, `upstream.headers.cookie`).
// Only plain objects are inspected: copying an Error or a Node request would lose its class, and
// those go through serializers (serializeReq censors request headers). pino applies this to the
// logged object only, not to child bindings.
function censorOneLevelDown(obj: Record<string, unknown>): Record<string, unknown> {
  let out = obj
  for (const key in obj) {
    const value = obj[key]
    if (!isPlainObject(value)) continue
    let censored = censorFields(value, SECRET_FIELDS)
    const headers = censored.headers
    if (isPlainObject(headers)) {
      const cleanHeaders = censorFields(headers, SECRET_HEADERS)
      if (cleanHeaders !== headers) censored = { ...censored, headers: cleanHeaders }
    }
    if (censored === value) continue
    if (out === obj) out = { ...obj }
    out[key] = censored
  }
  return out
}

// pino's standard serializers build a fresh object, so censoring it in place is safe; doing it
// here rather than with `req.headers[...]` redact paths avoids pino's cloning redactor on every
// access-log line.
function serializeReq(req: Parameters<typeof pino.stdSerializers.req>[0]) {
  const out = pino.stdSerializers.req(req)
  if (isPlainObject(out.headers)) out.headers = censorFields(out.headers, SECRET_HEADERS)
  if (typeof out.url === 'string') out.url = redactQuery(out.url)
  // fastify's query object has its own prototype, so no plain-object test here: every parsed
  // query is copied with its credential parameters censored (issue 9.5).
  const query: unknown = out.query
  if (typeof query === 'object' && query !== null) {
    out.query = redactQueryObject(query) as typeof out.query
  }
  return out
}

function serializeRes(res: Parameters<typeof pino.stdSerializers.res>[0]) {
  // fastify logs its reply, which wraps the Node response as `raw`; read status and headers
  // from that (the reply has no headersSent, so pino would report `statusCode: null`).
  const raw = (res as { raw?: unknown }).raw
  const out = pino.stdSerializers.res(isServerResponse(raw) ? raw : res)
  if (isPlainObject(out.headers)) out.headers = censorFields(out.headers, SECRET_HEADERS)
  return out
}

function isServerResponse(value: unknown): value is Parameters<typeof pino.stdSerializers.res>[0] {
  return typeof value === 'object' && value !== null && 'headersSent' in value
}

/**
 * Creates the process logger: JSON lines with credentials redacted.
 *
 * - Secret fields (`token`, `secret`, `signature`, `password`, `redisUrl`, `seed`) and auth
 *   headers (`authorization`, `x-auth-token`, `x-signature`, `cookie`, ...) are censored at the
 *   top level and one level down (`session.token`, `req.headers`, `upstream.headers`), and in a
 *   logged `config`. Child bindings get the top-level check only.
 * - `token=` (and `secret=`, `signature=`, `password=`) parameters and URL passwords are scrubbed
 *   from the whole serialized line: `url`, `req.url`, `path`, `msg`, child bindings alike.
 * - `req` and `res` go through pino's standard serializers, so Node request objects log compactly.
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const loggerOptions: LoggerOptions = {
    level: options.level,
    name: options.name,
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    serializers: {
      req: serializeReq,
      res: serializeRes,
      err: pino.stdSerializers.err,
    },
    formatters: { log: censorOneLevelDown },
    hooks: {
      // One linear scan of the finished line, skipped by the guard in redactUrl when it holds no
      // '=' or '@'. Cheaper than inspecting each URL-ish field (and copying the object to avoid
      // mutating the caller's), and it also covers msg, interpolated values and child bindings.
      streamWrite: redactUrl,
    },
  }
  return options.destination === undefined
    ? pino(loggerOptions)
    : pino(loggerOptions, options.destination)
}

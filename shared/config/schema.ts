import { isIPv4 } from 'node:net'
import convict from 'convict'
import { ErrorCode } from '../errors.js'
import type { ErrorCodeName } from '../errors.js'

/** Log levels accepted by `GATEWAY_LOG_LEVEL` (pino's levels plus `silent`). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number]

/** A DHT bootstrap node, as hyperdht accepts it. */
export interface BootstrapNode {
  readonly host: string
  readonly port: number
}

/** Environment variable naming the optional JSON config file. */
export const CONFIG_FILE_ENV = 'GATEWAY_CONFIG'

/** Minimum length of the registration secret, in bytes (UTF-8). */
export const MIN_SECRET_BYTES = 16

/**
 * The validated gateway configuration, shaped exactly like {@link gatewayConfigSchema}.
 * Empty strings mean "not configured"; see each entry's `doc` for what that implies.
 */
export interface GatewayConfig {
  readonly configFile: string
  readonly publicUrl: string
  readonly log: {
    readonly level: LogLevel
  }
  readonly proxy: {
    readonly host: string
    readonly port: number
  }
  readonly registrar: {
    readonly host: string
    readonly port: number
  }
  readonly registration: {
    readonly secret: string
    readonly ttl: number
    readonly redisUrl: string
    readonly redisPrefix: string
  }
  readonly token: {
    readonly defaultTtl: number
  }
  readonly hyperswarm: {
    readonly bootstrap: readonly BootstrapNode[]
    readonly host: string
    readonly seed: string
  }
}

/**
 * Extra, non-convict property a schema entry may carry: the stable error code reported (in
 * `CONFIG_INVALID` details) when the entry's value fails its format.
 */
export interface ConfigEntryExtras {
  failureCode?: ErrorCodeName
}

// Validators receive unknown input: values come from env strings (after coercion) or JSON files.
function fail(message: string): never {
  throw new Error(message)
}

const HOST_PORT = /^([A-Za-z0-9.-]+):(\d{1,5})$/

function parseHostPort(entry: string): BootstrapNode | undefined {
  const match = HOST_PORT.exec(entry)
  if (!match) return undefined
  const port = Number(match[2])
  if (port < 1 || port > 65535) return undefined
  return { host: match[1] ?? '', port }
}

function isBootstrapNode(value: unknown): value is BootstrapNode {
  if (typeof value !== 'object' || value === null) return false
  const { host, port } = value as Record<string, unknown>
  return (
    typeof host === 'string' &&
    /^[A-Za-z0-9.-]+$/.test(host) &&
    Number.isInteger(port) &&
    (port as number) >= 1 &&
    (port as number) <= 65535
  )
}

function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value)
  } catch {
    return undefined
  }
}

// Named formats (rather than inline functions) because convict only runs a custom coercer for
// named formats; for inline functions it guesses from the default (JSON.parse for arrays, lenient
// parseFloat for numbers). Names are registered process-wide, so they are kept specific.
convict.addFormats({
  'non-empty-string': {
    validate(value: unknown) {
      if (typeof value !== 'string' || value.trim() === '') fail('must be a non-empty string')
    },
  },
  'positive-int': {
    // Strict: convict's own int coercion (parseInt) would turn "300s" into 300.
    coerce: (value: string) => (/^\d+$/.test(value) ? Number(value) : value),
    validate(value: unknown) {
      if (!Number.isSafeInteger(value) || (value as number) < 1) {
        fail('must be a positive whole number')
      }
    },
  },
  'http-url-or-empty': {
    validate(value: unknown) {
      if (value === '') return
      if (typeof value !== 'string') fail('must be a string')
      const url = parseUrl(value)
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
        fail('must be an http:// or https:// URL, or empty')
      }
      if (url.username || url.password || url.search || url.hash) {
        fail('must not contain credentials, a query string or a fragment')
      }
    },
  },
  'redis-url-or-empty': {
    // Messages never echo the value: a Redis URL may embed a password.
    validate(value: unknown) {
      if (value === '') return
      if (typeof value !== 'string') fail('must be a string')
      const url = parseUrl(value)
      if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || !url.hostname) {
        fail('must be a redis:// or rediss:// URL with a host, or empty')
      }
    },
  },
  'secret-or-empty': {
    validate(value: unknown) {
      if (value === '') return
      if (typeof value !== 'string' || Buffer.byteLength(value, 'utf8') < MIN_SECRET_BYTES) {
        fail(`must be empty or at least ${MIN_SECRET_BYTES} bytes long`)
      }
    },
  },
  'hex32-or-empty': {
    validate(value: unknown) {
      if (value === '') return
      if (typeof value !== 'string' || !/^[0-9a-fA-F]{64}$/.test(value)) {
        fail('must be empty or exactly 64 hex characters (32 bytes)')
      }
    },
  },
  'ipv4-or-empty': {
    validate(value: unknown) {
      if (value === '') return
      if (typeof value !== 'string' || !isIPv4(value)) fail('must be an IPv4 address, or empty')
    },
  },
  'host-port-list': {
    // Never throws: bad entries stay as strings so validate() can name them.
    coerce: (value: string) =>
      value
        .split(',')
        .map((entry) => entry.trim())
        .filter((entry) => entry !== '')
        .map((entry) => parseHostPort(entry) ?? entry),
    validate(value: unknown) {
      if (!Array.isArray(value)) fail('must be a comma-separated host:port list')
      const bad = value.filter((entry) => !isBootstrapNode(entry))
      if (bad.length > 0) {
        const shown = bad.map((entry) => JSON.stringify(entry)).join(', ')
        fail(`invalid entry ${shown} (expected host:port with port 1-65535)`)
      }
    },
  },
})

/**
 * The convict schema of the gateway. Leaves carry `env`, `doc`, `format`, `default` and, for
 * secrets, `sensitive`; add new keys to the group they belong to (and to {@link GatewayConfig}).
 */
export const gatewayConfigSchema: convict.Schema<GatewayConfig> = {
  configFile: {
    doc:
      'Path to a JSON config file using the nested keys listed here (e.g. {"proxy": {"port": 8080}}). ' +
      'Environment variables override values from the file. Empty: no file.',
    format: String,
    default: '',
    env: CONFIG_FILE_ENV,
  },
  publicUrl: {
    doc:
      'Public URL of the gateway edge (the Caddy front), e.g. https://gateway.example.com. Used to build ' +
      'the ws(s):// URLs handed to clients. Empty: derived from the Host header of each request.',
    format: 'http-url-or-empty',
    default: '',
    env: 'GATEWAY_PUBLIC_URL',
  },
  log: {
    level: {
      doc: 'Minimum log level written to stdout (JSON lines).',
      format: [...LOG_LEVELS],
      default: 'info',
      env: 'GATEWAY_LOG_LEVEL',
    },
  },
  proxy: {
    host: {
      doc: 'Address the client-facing proxy (WebSocket and HTTP) listens on, behind Caddy.',
      format: 'non-empty-string',
      default: '127.0.0.1',
      env: 'GATEWAY_PROXY_HOST',
    },
    port: {
      doc: 'TCP port of the client-facing proxy. 0 picks a free port.',
      format: 'port',
      default: 8080,
      env: 'GATEWAY_PROXY_PORT',
    },
  },
  registrar: {
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
  },
  registration: {
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
  },
  token: {
    defaultTtl: {
      doc: 'Seconds a client token minted by the gateway stays valid when no lifetime is requested.',
      format: 'positive-int',
      default: 3600,
      env: 'GATEWAY_DEFAULT_TOKEN_TTL',
    },
  },
  hyperswarm: {
    bootstrap: {
      doc:
        'Comma-separated host:port list of DHT bootstrap nodes, e.g. 10.0.0.5:49737,dht.example.org:49737 ' +
        '(in a config file: the same string or an array of {"host", "port"} objects). Empty: the public ' +
        'HyperDHT bootstrap nodes.',
      format: 'host-port-list',
      default: [],
      env: 'GATEWAY_HYPERSWARM_BOOTSTRAP',
    },
    host: {
      doc: 'IPv4 address the DHT node binds to. Empty: the library default (all interfaces).',
      format: 'ipv4-or-empty',
      default: '',
      env: 'GATEWAY_HYPERSWARM_HOST',
    },
    seed: {
      doc:
        'Seed of the gateway swarm key pair: 64 hex characters (32 bytes). Set it to keep the same ' +
        'public key across restarts. Empty: a new random key pair on every start.',
      format: 'hex32-or-empty',
      default: '',
      env: 'GATEWAY_HYPERSWARM_SEED',
      sensitive: true,
    },
  },
}

/** One leaf of a convict schema, flattened. */
export interface ConfigEntry {
  /** Dotted key, e.g. `proxy.port`. */
  readonly key: string
  readonly env: string | undefined
  readonly doc: string | undefined
  readonly format: unknown
  readonly default: unknown
  readonly sensitive: boolean
  readonly failureCode: ErrorCodeName | undefined
}

/**
 * Flattens a convict schema into its leaves, in declaration order. A node is a leaf when it has
 * a `default`, which is convict's own rule.
 */
export function configEntries<T>(schema: convict.Schema<T>): ConfigEntry[] {
  const entries: ConfigEntry[] = []
  const visit = (node: Record<string, unknown>, prefix: string): void => {
    for (const [name, child] of Object.entries(node)) {
      const key = prefix + name
      if (typeof child !== 'object' || child === null || Array.isArray(child)) {
        entries.push(entry(key, { default: child }))
      } else if ('default' in child) {
        entries.push(entry(key, child as convict.SchemaObj & ConfigEntryExtras))
      } else {
        visit(child as Record<string, unknown>, `${key}.`)
      }
    }
  }
  visit(schema as Record<string, unknown>, '')
  return entries
}

function entry(key: string, leaf: convict.SchemaObj & ConfigEntryExtras): ConfigEntry {
  return {
    key,
    env: leaf.env,
    doc: leaf.doc,
    format: leaf.format,
    default: leaf.default,
    sensitive: leaf.sensitive === true,
    failureCode: leaf.failureCode,
  }
}

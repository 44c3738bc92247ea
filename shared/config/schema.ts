import type convict from 'convict'
import { registerConfigFormats } from './config-formats.js'
import { CONFIG_FILE_ENV, LOG_LEVELS } from './gateway-config.js'
import type { GatewayConfig } from './gateway-config.js'

export * from './gateway-config.js'
import { proxySchema } from './proxy-schema.js'
import {
  adminSchema,
  registrarSchema,
  registrationSchema,
  tokenSchema,
} from './registrar-schema.js'
import { hyperswarmSchema, poolSchema } from './swarm-schema.js'
import type { ErrorCodeName } from '../errors.js'

/**
 * Extra, non-convict property a schema entry may carry: the stable error code reported (in
 * `CONFIG_INVALID` details) when the entry's value fails its format.
 */
export interface ConfigEntryExtras {
  failureCode?: ErrorCodeName
}

registerConfigFormats()

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
  trustedProxies: {
    doc:
      'Comma-separated addresses or CIDR ranges whose X-Forwarded-For header is believed (Caddy in ' +
      'front; compose sets its fixed address). Client IPs drive per-IP limits. Empty (the default): ' +
      'no header is believed and every client is taken at its socket address.',
    format: 'address-list',
    default: [],
    env: 'GATEWAY_TRUSTED_PROXIES',
  },
  log: {
    level: {
      doc: 'Minimum log level written to stdout (JSON lines).',
      format: [...LOG_LEVELS],
      default: 'info',
      env: 'GATEWAY_LOG_LEVEL',
    },
  },
  proxy: proxySchema,
  registrar: registrarSchema,
  registration: registrationSchema,
  pool: poolSchema,
  token: tokenSchema,
  admin: adminSchema,
  hyperswarm: hyperswarmSchema,
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

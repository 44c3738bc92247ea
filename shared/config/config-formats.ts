import { isIP, isIPv4 } from 'node:net'
import convict from 'convict'
import type { BootstrapNode } from './gateway-config.js'
import { MIN_ADMIN_TOKEN_BYTES, MIN_SECRET_BYTES } from './gateway-config.js'

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

// An address or a CIDR range, as proxy/client-address.ts and fastify's trustProxy both read them.
function isAddressOrRange(entry: string): boolean {
  const [address = '', bits, ...rest] = entry.split('/')
  const family = isIP(address)
  if (family === 0 || rest.length > 0) return false
  if (bits === undefined) return true
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32)
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
let registered = false

/** Registers the named convict formats the schema uses (process-wide, once). */
export function registerConfigFormats(): void {
  if (registered) return
  registered = true
  convict.addFormats({
    'non-empty-string': {
      validate(value: unknown) {
        if (typeof value !== 'string' || value.trim() === '') fail('must be a non-empty string')
      },
    },
    bool: {
      // Strict: convict's Boolean turns anything but "false" (even "0") into true.
      coerce: (value: string) => {
        const v = value.trim().toLowerCase()
        if (v === 'true' || v === '1' || v === 'yes') return true
        if (v === 'false' || v === '0' || v === 'no') return false
        return value
      },
      validate(value: unknown) {
        if (typeof value !== 'boolean') fail('must be true or false')
      },
    },
    'address-list': {
      coerce: (value: string) =>
        value
          .split(',')
          .map((entry) => entry.trim())
          .filter((entry) => entry !== ''),
      validate(value: unknown) {
        if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
          fail('must be a comma-separated list')
        }
        const bad = (value as string[]).find((v) => !isAddressOrRange(v))
        // A typo here would silently trust nobody (or the wrong hop): refuse it.
        if (bad !== undefined) fail(`"${bad}" is not an IP address or CIDR range`)
      },
    },
    'string-list': {
      coerce: (value: string) =>
        value
          .split(',')
          .map((entry) => entry.trim())
          .filter((entry) => entry !== ''),
      validate(value: unknown) {
        if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v !== '')) {
          fail('must be a comma-separated list')
        }
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
    'admin-token-or-empty': {
      validate(value: unknown) {
        if (value === '') return
        if (typeof value !== 'string' || Buffer.byteLength(value, 'utf8') < MIN_ADMIN_TOKEN_BYTES) {
          fail(`must be empty or at least ${MIN_ADMIN_TOKEN_BYTES} bytes long`)
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
    'hex32-list': {
      coerce: (value: string) =>
        value
          .split(',')
          .map((entry) => entry.trim().toLowerCase())
          .filter((entry) => entry !== ''),
      validate(value: unknown) {
        if (
          !Array.isArray(value) ||
          !value.every((v) => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v))
        ) {
          fail('must be a comma-separated list of 64-hex-character public keys')
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
}

import type { IncomingMessage } from 'node:http'

/** What a client's request names: candidate relay identifiers and its token. */
export interface RelayTarget {
  /** Lookup candidates in order: the legacy `a:b` form first, then the raw path as an alias. */
  identifiers: string[]
  token: string | null
}

const SEGMENT = /^[A-Za-z0-9._~:@!$&'()*+,;=-]+$/
// The path alone: a query token (a few hundred characters for long relay names) must not eat
// into it. The whole request line is bounded by node's header limit.
const MAX_PATH = 512
// gatewayPath aliases have up to four segments (docs/registrar.md).
const MAX_SEGMENTS = 4

function decode(segment: string): string | null {
  try {
    const value = decodeURIComponent(segment)
    return SEGMENT.test(value) ? value : null
  } catch {
    return null
  }
}

/**
 * Reads the relay and token from a request: `/<relay>`, `/<a>/<b>` (relay
 * `a:b`, or the alias `a/b`) or a longer alias of up to four segments; the
 * token from `Authorization: Bearer` (any case) or `?token=`. The path (not the query) is
 * at most 512 characters.
 * Null when the path cannot name a relay.
 */
export function relayTarget(req: IncomingMessage): RelayTarget | null {
  const url = req.url ?? '/'
  const q = url.indexOf('?')
  const identifiers = pathIdentifiers(q === -1 ? url : url.slice(0, q))
  if (identifiers === null) return null
  return { identifiers, token: tokenOf(req, q === -1 ? '' : url.slice(q + 1)) }
}

/**
 * The relay identifiers a path (without its query) can name, in lookup order, as
 * {@link relayTarget} reads them; null when it names none.
 */
export function pathIdentifiers(path: string): string[] | null {
  if (path.length > MAX_PATH) return null
  const parts = path.split('/').filter(Boolean)
  if (parts.length === 0 || parts.length > MAX_SEGMENTS) return null
  const decoded = parts.map(decode)
  if (decoded.some((p) => p === null)) return null
  const segments = decoded as string[]
  return segments.length === 2
    ? [`${segments[0]}:${segments[1]}`, segments.join('/')]
    : [segments.join('/')]
}

// RFC 9110 11.1: the scheme name is case-insensitive.
const BEARER = /^bearer[ \t]+/i

function tokenOf(req: IncomingMessage, query: string): string | null {
  const auth = req.headers.authorization
  if (typeof auth === 'string' && BEARER.test(auth)) {
    const token = auth.replace(BEARER, '').trim()
    if (token !== '') return token
  }
  if (query === '') return null
  const token = new URLSearchParams(query).get('token')
  return token === null || token === '' ? null : token
}

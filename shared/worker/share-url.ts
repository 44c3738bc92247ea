import { ErrorCode, GatewayError } from '../errors.js'

const SCHEMES: Readonly<Record<string, string>> = {
  'http:': 'ws:',
  'https:': 'wss:',
  'ws:': 'ws:',
  'wss:': 'wss:',
}

/**
 * The URL a worker hands to Nostr clients: `wss://<gateway>/<gatewayPath>?token=<token>`.
 * `http` becomes `ws` and `https` becomes `wss`; a path prefix of the gateway URL is kept.
 * Each segment of `gatewayPath` is percent-encoded except `:`, which docs/protocol.md section 3 keeps as is
 * (`<npub>:<name>`).
 *
 * @throws GatewayError `CONFIG_INVALID` for a URL that does not parse or is not http(s)/ws(s),
 * or an empty `gatewayPath`.
 */
export function shareUrl(gatewayPublicUrl: string, gatewayPath: string, token: string): string {
  let url: URL
  try {
    url = new URL(gatewayPublicUrl)
  } catch (err) {
    throw new GatewayError(ErrorCode.CONFIG_INVALID, 'gateway URL does not parse', { cause: err })
  }
  const scheme = SCHEMES[url.protocol]
  if (scheme === undefined) {
    throw new GatewayError(
      ErrorCode.CONFIG_INVALID,
      `gateway URL scheme ${url.protocol} is not http(s) or ws(s)`,
    )
  }
  const segments = gatewayPath.split('/').filter((segment) => segment !== '')
  if (segments.length === 0) {
    throw new GatewayError(ErrorCode.CONFIG_INVALID, 'gatewayPath is empty')
  }
  const path = segments.map((s) => encodeURIComponent(s).replace(/%3A/gi, ':')).join('/')
  const base = url.pathname.replace(/\/+$/, '')
  // Built as text: assigning `protocol` across the special/non-special scheme line is a no-op.
  const host = url.host
  const query = new URLSearchParams({ token }).toString()
  return `${scheme}//${host}${base}/${path}?${query}`
}

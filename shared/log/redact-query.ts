// Query parameters are credentials when their name (decoded, any case, `[]` or a prefix such as
// `access_` around it) says so: `token`, `Tok%65n`, `relayAuthToken`, `token[]`, `sig`.
const SECRET_NAME = /token|secret|signature|password|passwd|credential|apikey|api_key|auth|^sig$/i

/** The placeholder of a redacted value (also `REDACTED` in create-logger). */
const CENSOR = '[REDACTED]'

function decodedName(raw: string): string {
  try {
    return decodeURIComponent(raw.replaceAll('+', ' '))
  } catch {
    return raw
  }
}

/** True when a query or form parameter of this name carries a credential. */
export function isSecretParam(name: string): boolean {
  return SECRET_NAME.test(decodedName(name))
}

/**
 * The URL with the value of every credential parameter replaced, names decoded the way a
 * server's query parser decodes them (so `?tok%65n=X` is caught, which a plain `token=`
 * search misses). Everything else is kept byte for byte.
 */
export function redactQuery(url: string): string {
  const q = url.indexOf('?')
  if (q === -1) return url
  const hash = url.indexOf('#', q)
  const end = hash === -1 ? url.length : hash
  const parts = url.slice(q + 1, end).split('&')
  let changed = false
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string
    const eq = part.indexOf('=')
    const name = eq === -1 ? part : part.slice(0, eq)
    if (eq === -1 || !isSecretParam(name)) continue
    parts[i] = `${name}=${CENSOR}`
    changed = true
  }
  return changed ? `${url.slice(0, q + 1)}${parts.join('&')}${url.slice(end)}` : url
}

/**
 * A parsed query object (any prototype: fastify's parser makes its own) as a plain object with
 * credential values replaced. Never mutates its input.
 */
export function redactQueryObject(query: object): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(query)) {
    out[name] = isSecretParam(name) ? CENSOR : value
  }
  return out
}

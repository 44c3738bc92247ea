import type { RouteResponse } from './router.js'
import type { Body, RelayRequest, RelayResponse } from './wire.js'

/**
 * The relay-v2 response for a route's answer to `req`. Text stays text (with `text-body` it goes
 * out as a JSON string without a Buffer between); any other value is sent as JSON. HEAD carries
 * no body but says how long it would have been.
 */
export function toRelayResponse(req: RelayRequest, res: RouteResponse): RelayResponse {
  let headers = res.headers ?? {}
  let body: Body = null
  const raw = res.body
  if (Buffer.isBuffer(raw) || typeof raw === 'string') body = raw
  else if (raw !== null && raw !== undefined) {
    body = JSON.stringify(raw)
    if (headers['content-type'] === undefined)
      headers = { ...headers, 'content-type': 'application/json' }
  }
  if (req.method === 'HEAD') {
    if (body !== null && headers['content-length'] === undefined) {
      const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length
      headers = { ...headers, 'content-length': String(length) }
    }
    body = null
  }
  return { id: req.id, statusCode: res.statusCode, headers, body }
}

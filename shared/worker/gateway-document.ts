import type { GatewayTargets } from './gateway-link.js'

/** Path of the registrar's gateway document. */
export const GATEWAY_DOCUMENT_PATH = '/api/gateway'

/**
 * What the registrar publishes about the gateway's swarm (GET /api/gateway, and `gateway` in
 * a registration answer): the keys of its DHT nodes a worker may dial out to, and the blind
 * relays it may fall back to. Empty `gatewayKeys`: this gateway does not offer dial-out.
 */
export interface GatewayDocument extends GatewayTargets {
  version: 1
}

const HEX_KEY = /^[0-9a-f]{64}$/

/** The document in `value`, or null when it is not one (an older registrar answers without). */
export function parseGatewayDocument(value: unknown): GatewayDocument | null {
  if (typeof value !== 'object' || value === null) return null
  const { version, gatewayKeys, relays } = value as Record<string, unknown>
  const keys = (list: unknown): string[] | null =>
    Array.isArray(list) && list.every((k) => typeof k === 'string' && HEX_KEY.test(k))
      ? (list as string[])
      : null
  const g = keys(gatewayKeys)
  const r = keys(relays ?? [])
  if (version !== 1 || g === null || r === null) return null
  return { version: 1, gatewayKeys: g, relays: r }
}

/**
 * Fetches the registrar's gateway document (`baseUrl` is the registrar or the edge routing
 * `/api` to it); null when the registrar has none (older gateways answer 404).
 */
export async function fetchGatewayDocument(
  baseUrl: string,
  fetchFn: typeof fetch = fetch,
  timeoutMs = 10_000,
): Promise<GatewayDocument | null> {
  const answer = await fetchFn(new URL(GATEWAY_DOCUMENT_PATH, baseUrl), {
    signal: AbortSignal.timeout(timeoutMs),
  })
  if (answer.status === 404) return null
  if (!answer.ok) throw new Error(`GET ${GATEWAY_DOCUMENT_PATH} answered ${answer.status}`)
  return parseGatewayDocument(await answer.json())
}

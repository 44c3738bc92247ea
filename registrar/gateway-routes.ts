import type { FastifyInstance } from 'fastify'
import type { GatewayConfig } from '../shared/config/gateway-config.js'
import { relayKeyPair, seedPublicKey } from '../shared/swarm/create-swarm.js'
import { GATEWAY_DOCUMENT_PATH } from '../shared/worker/gateway-document.js'
import type { GatewayDocument } from '../shared/worker/gateway-document.js'

/**
 * The gateway document from the config: the proxies' swarm keys (listed, or derived from the
 * seed the registrar shares with a single proxy) and the relays (external ones, then the one
 * a proxy offers under the seed-derived relay key).
 */
export function gatewayDocument(config: GatewayConfig): GatewayDocument {
  const hs = config.hyperswarm
  const listed = config.registrar.gatewayKeys
  const gatewayKeys =
    listed.length > 0 ? [...listed] : hs.seed === '' ? [] : [seedPublicKey(hs.seed)]
  const own =
    hs.relayServer && hs.seed !== '' ? [relayKeyPair(hs.seed).publicKey.toString('hex')] : []
  return { version: 1, gatewayKeys, relays: [...new Set([...hs.relays, ...own])] }
}

/** Registers `GET /api/gateway`: public, unsigned (the keys are public by nature). */
export function registerGatewayRoutes(app: FastifyInstance, document: GatewayDocument): void {
  app.get(GATEWAY_DOCUMENT_PATH, async () => document)
}

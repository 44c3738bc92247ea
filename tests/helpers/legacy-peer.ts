import c from 'compact-encoding'
import type { NoiseSecretStream } from 'hyperdht'
import type Hyperswarm from 'hyperswarm'
import Protomux from 'protomux'
import type { Encoding } from 'protomux'
import { DISCOVERY_TOPIC } from '../../shared/protocol/wire.js'
import type { LocalTestnet } from './testnet.js'

type Json = Record<string, unknown>

/**
 * A worker as the field has them: written straight on Protomux with
 * compact-encoding json and only the five legacy slots, sharing no code with
 * the project's channel, so the pool is tested against an independent peer.
 */
export class LegacyPeer {
  readonly swarm: Hyperswarm
  /** When false, health checks go unanswered (a hung worker). */
  answerHealth = true
  readonly requests: Json[] = []
  readonly frames: Json[] = []
  readonly handshakes: Json[] = []
  respond: (req: Json) => Json = (req) => ({
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: [...Buffer.from(JSON.stringify({ echo: req.path }))],
  })

  constructor(testnet: LocalTestnet, seed?: Buffer) {
    this.swarm = testnet.createSwarm(seed === undefined ? {} : { seed })
    this.swarm.on('connection', (stream: NoiseSecretStream) => this.#serve(stream))
  }

  get publicKey(): string {
    return this.swarm.keyPair.publicKey.toString('hex')
  }

  async start(): Promise<this> {
    await this.swarm.join(DISCOVERY_TOPIC, { server: true, client: false }).flushed()
    return this
  }

  #serve(stream: NoiseSecretStream): void {
    stream.on('error', () => {})
    const json = c.json as Encoding<Json>
    const mux = Protomux.from(stream)
    const channel = mux.createChannel<Json>({
      protocol: 'hypertuna-relay-v2',
      id: null,
      handshake: json,
      onopen: (h) => {
        this.handshakes.push(h)
      },
    })
    if (channel === null) return
    const request = channel.addMessage({
      encoding: json,
      onmessage: (req: Json) => {
        this.requests.push(req)
        response.send({ id: req.id, ...this.respond(req) })
      },
    })
    const response = channel.addMessage({ encoding: json })
    channel.addMessage({ encoding: json, onmessage: (f: Json) => void this.frames.push(f) })
    channel.addMessage({
      encoding: json,
      onmessage: (h: Json) => {
        if (this.answerHealth) {
          health.send({
            id: h.id,
            status: 'healthy',
            timestamp: new Date().toISOString(),
            services: {},
          })
        }
      },
    })
    const health = channel.addMessage({ encoding: json })
    void request
    channel.open({ version: '2.0', isServer: true, capabilities: ['http', 'websocket', 'health'] })
  }

  async close(): Promise<void> {
    await this.swarm.destroy()
  }
}

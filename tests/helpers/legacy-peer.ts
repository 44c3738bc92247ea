import c from 'compact-encoding'
import type { NoiseSecretStream } from 'hyperdht'
import type Hyperswarm from 'hyperswarm'
import Protomux from 'protomux'
import type { Encoding } from 'protomux'
import { DISCOVERY_TOPIC } from '../../shared/protocol/wire.js'
import type { LocalTestnet } from './testnet.js'

type Json = Record<string, unknown>

/** A swarm source: the tests' testnet, or a swarm made elsewhere (the bench's child). */
export type LegacySwarmSource = LocalTestnet | { swarm: Hyperswarm }

/**
 * A worker as the field has them: written straight on Protomux with
 * compact-encoding json and only the five legacy slots, sharing no code with
 * the project's channel, so the pool is tested against an independent peer.
 * Requests are answered as they arrive, concurrently when `respond` is slow,
 * as a real worker's async handlers do.
 */
export class LegacyPeer {
  readonly swarm: Hyperswarm
  /** When false, health checks go unanswered (a hung worker). */
  answerHealth = true
  /** Every request received (unless `keepRequests` is false, for long runs such as the bench). */
  readonly requests: Json[] = []
  readonly #keepRequests: boolean
  readonly frames: Json[] = []
  readonly handshakes: Json[] = []
  respond: (req: Json) => Json | Promise<Json> = (req) => ({
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: [...Buffer.from(JSON.stringify({ echo: req.path }))],
  })

  constructor(source: LegacySwarmSource, opts: { seed?: Buffer; keepRequests?: boolean } = {}) {
    this.swarm =
      'swarm' in source
        ? source.swarm
        : source.createSwarm(opts.seed === undefined ? {} : { seed: opts.seed })
    this.#keepRequests = opts.keepRequests !== false
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
    const answer = (req: Json, res: Json) => response.send({ id: req.id, ...res })
    const failed = (req: Json) =>
      answer(req, { statusCode: 500, headers: {}, body: [...Buffer.from('{"error":"internal"}')] })
    channel.addMessage({
      encoding: json,
      onmessage: (req: Json) => {
        if (this.#keepRequests) this.requests.push(req)
        let res: Json | Promise<Json>
        try {
          res = this.respond(req)
        } catch {
          return failed(req)
        }
        if (res instanceof Promise)
          res.then(
            (r) => answer(req, r),
            () => failed(req),
          )
        else answer(req, res)
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
    channel.open({ version: '2.0', isServer: true, capabilities: ['http', 'websocket', 'health'] })
  }

  async close(): Promise<void> {
    await this.swarm.destroy()
  }
}

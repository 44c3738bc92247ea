import { Server as BlindRelayServer } from 'blind-relay'
import type { BlindRelayStats } from 'blind-relay'
import type HyperDHT from 'hyperdht'
import type { DhtServer, KeyPair, NoiseSecretStream } from 'hyperdht'
import type { Logger } from 'pino'

/**
 * A blind relay (the `blind-relay` protocol HyperDHT's `relayThrough` speaks) on an existing
 * DHT node, under its own key pair. Two peers that cannot punch a hole to each other both
 * connect here and the relay forwards their (end-to-end encrypted) UDX packets.
 */
export class RelayService {
  readonly #dht: HyperDHT
  readonly #keyPair: KeyPair
  readonly #log: Logger
  #relay: BlindRelayServer | null = null
  #server: DhtServer | null = null
  #closing: Promise<void> | null = null

  constructor(opts: { dht: HyperDHT; keyPair: KeyPair; logger: Logger }) {
    this.#dht = opts.dht
    this.#keyPair = opts.keyPair
    this.#log = opts.logger
  }

  /** The relay's public key, hex: what `relayThrough` and GATEWAY_HYPERSWARM_RELAYS name. */
  get publicKey(): string {
    return this.#keyPair.publicKey.toString('hex')
  }

  get stats(): BlindRelayStats | null {
    return this.#relay?.stats ?? null
  }

  async start(): Promise<void> {
    if (this.#server !== null) return
    const dht = this.#dht
    const relay = new BlindRelayServer({
      createStream: (opts: unknown) => dht.createRawStream({ ...(opts as object), framed: true }),
    })
    this.#relay = relay
    this.#server = dht.createServer({}, (socket: NoiseSecretStream) => this.#accept(relay, socket))
    this.#server.on('error', (err: Error) => this.#log.warn({ err }, 'relay server error'))
    await this.#server.listen(this.#keyPair)
    this.#log.info({ relayKey: this.publicKey }, 'blind relay listening')
  }

  #accept(relay: BlindRelayServer, socket: NoiseSecretStream): void {
    socket.on('error', (err: Error) => this.#log.debug({ err }, 'relay peer socket error'))
    socket.setKeepAlive(5_000)
    const session = relay.accept(socket, { id: socket.remotePublicKey })
    session.on('error', (err: Error) => this.#log.debug({ err }, 'relay session error'))
  }

  /** Stops accepting, ends every relayed pair; idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#server?.close()
      await this.#relay?.close()
    })()
    return this.#closing
  }
}

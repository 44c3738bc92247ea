// Minimal ambient types for the Holepunch modules we use; they ship no typings.
// Only what the project touches is declared, so a wrong assumption fails to compile.

declare module 'protomux' {
  import type { Duplex } from 'node:stream'

  export interface EncodingState {
    start: number
    end: number
    buffer: Uint8Array | null
  }
  export interface Encoding<T> {
    preencode(state: EncodingState, value: T): void
    encode(state: EncodingState, value: T): void
    decode(state: EncodingState): T
  }

  export interface ProtomuxMessage<T> {
    send(value: T): boolean
    onmessage: (value: T) => unknown
    encoding: Encoding<T>
  }
  export interface ChannelOptions<H> {
    protocol: string
    id?: Uint8Array | null
    handshake?: Encoding<H>
    unique?: boolean
    messages?: Array<{ encoding: Encoding<unknown>; onmessage?: (m: unknown) => unknown }>
    onopen?: (handshake: H) => unknown
    onclose?: () => unknown
    ondestroy?: () => unknown
    ondrain?: () => unknown
  }
  export interface Channel<H> {
    opened: boolean
    closed: boolean
    destroyed: boolean
    handshake: H | null
    drained: boolean
    open(handshake?: H): void
    close(): void
    cork(): void
    uncork(): void
    fullyOpened(): Promise<boolean>
    fullyClosed(): Promise<void>
    addMessage<T>(opts: {
      encoding: Encoding<T>
      onmessage?: (m: T) => unknown
    }): ProtomuxMessage<T>
  }
  export default class Protomux {
    constructor(stream: Duplex | NodeJS.ReadWriteStream, opts?: unknown)
    static from(stream: unknown, opts?: unknown): Protomux
    stream: Duplex
    drained: boolean
    createChannel<H>(opts: ChannelOptions<H>): Channel<H> | null
    opened(opts: { protocol: string; id?: Uint8Array | null }): boolean
    pair(
      opts: { protocol: string; id?: Uint8Array | null },
      notify: (id: Uint8Array | null) => void,
    ): void
    unpair(opts: { protocol: string; id?: Uint8Array | null }): void
    cork(): void
    uncork(): void
    destroy(err?: Error): void
    isIdle(): boolean
  }
}

declare module 'hyperdht' {
  import type { EventEmitter } from 'node:events'
  import type { Duplex } from 'node:stream'

  export interface KeyPair {
    publicKey: Buffer
    secretKey: Buffer
  }
  export interface NoiseSecretStream extends Duplex {
    remotePublicKey: Buffer
    publicKey: Buffer
    isInitiator: boolean
    opened: Promise<boolean>
    rawStream: { remoteHost?: string; remotePort?: number }
    userData: unknown
    destroyed: boolean
    setKeepAlive(ms: number): void
    /** Writes one empty frame. */
    sendKeepAlive(): void
    /** Resolves once everything written so far is acknowledged by the remote transport. */
    flush(): Promise<boolean>
  }
  export interface DhtServer extends EventEmitter {
    listen(keyPair?: KeyPair): Promise<void>
    close(): Promise<void>
    address(): { host: string; port: number; publicKey: Buffer } | null
  }
  export interface DhtOptions {
    bootstrap?: Array<string | { host: string; port: number }>
    host?: string
    port?: number
    keyPair?: KeyPair
    seed?: Buffer
    ephemeral?: boolean
    firewalled?: boolean
    anyPort?: boolean
    connectionKeepAlive?: number | false
  }
  export default class HyperDHT extends EventEmitter {
    constructor(opts?: DhtOptions)
    static keyPair(seed?: Buffer): KeyPair
    static bootstrapper(port: number, host: string, opts?: DhtOptions): HyperDHT
    defaultKeyPair: KeyPair
    destroyed: boolean
    ready(): Promise<void>
    fullyBootstrapped(): Promise<void>
    address(): { host: string; port: number }
    /** Public address as other nodes observe it (null host / 0 port: not known or random). */
    readonly host: string | null
    readonly port: number
    readonly randomized: boolean
    firewalled: boolean
    createRawStream(opts?: unknown): unknown
    connect(
      publicKey: Buffer,
      opts?: { keyPair?: KeyPair; relayThrough?: Buffer | Buffer[] },
    ): NoiseSecretStream
    createServer(opts?: unknown, onconnection?: (socket: NoiseSecretStream) => void): DhtServer
    destroy(opts?: { force?: boolean }): Promise<void>
  }
}

declare module 'hyperdht/testnet.js' {
  import type HyperDHT from 'hyperdht'
  import type { DhtOptions } from 'hyperdht'

  export interface Testnet {
    nodes: HyperDHT[]
    bootstrap: Array<{ host: string; port: number }>
    createNode(opts?: DhtOptions): HyperDHT
    destroy(): Promise<void>
  }
  export default function createTestnet(
    size?: number,
    opts?: { host?: string; port?: number; bootstrap?: Array<{ host: string; port: number }> },
  ): Promise<Testnet>
}

declare module 'hyperswarm' {
  import type { EventEmitter } from 'node:events'
  import type HyperDHT from 'hyperdht'
  import type { KeyPair, NoiseSecretStream } from 'hyperdht'

  export interface PeerInfo {
    publicKey: Buffer
    topics: Buffer[]
    prioritized: boolean
    ban(banned?: boolean): void
  }
  export interface PeerDiscovery {
    flushed(): Promise<void>
    destroy(): Promise<void>
  }
  export interface SwarmOptions {
    dht?: HyperDHT
    keyPair?: KeyPair
    seed?: Buffer
    maxPeers?: number
    relayThrough?:
      Buffer | Buffer[] | null | ((force: boolean, swarm: Hyperswarm) => Buffer | Buffer[] | null)
    firewall?: (remotePublicKey: Buffer, payload: unknown) => boolean
  }
  export default class Hyperswarm extends EventEmitter {
    constructor(opts?: SwarmOptions)
    keyPair: KeyPair
    dht: HyperDHT
    connections: Set<NoiseSecretStream>
    destroyed: boolean
    /** The relay rule the swarm was built with (a list is wrapped in a function). */
    relayThrough: ((force: boolean, swarm: Hyperswarm) => Buffer | Buffer[] | null) | null
    join(topic: Buffer, opts?: { server?: boolean; client?: boolean }): PeerDiscovery
    leave(topic: Buffer): Promise<void>
    joinPeer(publicKey: Buffer): void
    leavePeer(publicKey: Buffer): void
    listen(): Promise<void>
    flush(): Promise<boolean>
    destroy(opts?: { force?: boolean }): Promise<void>
    on(event: 'connection', listener: (socket: NoiseSecretStream, info: PeerInfo) => void): this
    on(event: string, listener: (...args: unknown[]) => void): this
  }
}

declare module 'hypercore-crypto' {
  export function hash(data: Uint8Array | Uint8Array[]): Buffer
  export function randomBytes(n: number): Buffer
  export function discoveryKey(key: Uint8Array): Buffer
}

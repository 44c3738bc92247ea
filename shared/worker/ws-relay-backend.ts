import { EventEmitter } from 'node:events'
import { WebSocket } from 'ws'
import type { RelayBackend } from './relay-backend.js'

/** Options of {@link WsRelayBackend}. */
export interface WsRelayBackendOptions {
  /** The local relay, `ws://` or `wss://`. */
  url: string
  /** Deadline of one connection attempt. Default 5 000. */
  connectTimeoutMs?: number
  /** Most client connections held at once; past it new ones are refused. Default 1 024. */
  maxConnections?: number
}

/** Counters of a {@link WsRelayBackend}, for a status line or metrics. */
export interface WsRelayBackendStats {
  /** Open WebSockets to the local relay (one per gateway connectionKey). */
  connections: number
  /** Client messages sent to the local relay. */
  messagesIn: number
  /** Relay messages sent back towards clients. */
  messagesOut: number
  /** Connection attempts to the local relay that failed. */
  connectFailures: number
}

/** Events of a {@link WsRelayBackend}. */
export interface WsRelayBackendEvents {
  /** A connection to the local relay failed or broke. */
  'relay-error': [error: Error]
}

interface Link {
  ws: WebSocket
  open: Promise<void>
}

/**
 * A {@link RelayBackend} for any relay that speaks NIP-01 over WebSocket (strfry,
 * nostr-rs-relay, khatru, ...): each gateway `connectionKey` gets its own WebSocket to the local
 * relay, so the relay sees one client per gateway client, with its own subscriptions. Every
 * relay answer goes out through `onOutput` (pushed by RelayHost to gateways that negotiated
 * push, queued for polling ones); `handleMessage` answers nothing itself unless the local relay
 * cannot be reached, in which case the client gets NIP-01 refusals (`OK` false, `CLOSED`).
 */
export class WsRelayBackend extends EventEmitter<WsRelayBackendEvents> implements RelayBackend {
  readonly #url: string
  readonly #timeoutMs: number
  readonly #max: number
  readonly #links = new Map<string, Link>()
  readonly #listeners = new Set<(connectionKey: string, line: string) => void>()
  readonly #stats = { messagesIn: 0, messagesOut: 0, connectFailures: 0 }
  #closed = false

  constructor(options: WsRelayBackendOptions) {
    super()
    const protocol = new URL(options.url).protocol
    if (protocol !== 'ws:' && protocol !== 'wss:') {
      throw new TypeError(`local relay URL must be ws:// or wss://, not ${protocol}`)
    }
    this.#url = options.url
    this.#timeoutMs = options.connectTimeoutMs ?? 5_000
    this.#max = options.maxConnections ?? 1_024
  }

  get stats(): WsRelayBackendStats {
    return { connections: this.#links.size, ...this.#stats }
  }

  /** Opens one WebSocket to the local relay and closes it: resolves when the relay answers. */
  async probe(): Promise<void> {
    const ws = new WebSocket(this.#url, { handshakeTimeout: this.#timeoutMs })
    try {
      await opened(ws)
    } finally {
      ws.terminate()
    }
  }

  async handleMessage(connectionKey: string, message: unknown): Promise<string[]> {
    if (this.#closed) return refusal(message, 'error: relay is shutting down')
    let link = this.#links.get(connectionKey)
    if (link === undefined) {
      if (this.#links.size >= this.#max) {
        return refusal(message, 'error: too many connections to this relay')
      }
      link = this.#connect(connectionKey)
    }
    try {
      await link.open
    } catch {
      return refusal(message, 'error: the relay behind this gateway is unreachable')
    }
    if (link.ws.readyState !== WebSocket.OPEN) {
      return refusal(message, 'error: the relay closed the connection')
    }
    this.#stats.messagesIn++
    link.ws.send(JSON.stringify(message))
    return []
  }

  onOutput(listener: (connectionKey: string, line: string) => void): () => void {
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  closeConnection(connectionKey: string): void {
    const link = this.#links.get(connectionKey)
    if (link === undefined) return
    this.#links.delete(connectionKey)
    link.ws.close(1000)
  }

  /** Closes every WebSocket to the local relay. Idempotent. */
  close(): void {
    this.#closed = true
    for (const key of [...this.#links.keys()]) this.closeConnection(key)
    this.#listeners.clear()
  }

  #connect(connectionKey: string): Link {
    const ws = new WebSocket(this.#url, { handshakeTimeout: this.#timeoutMs })
    const link: Link = { ws, open: opened(ws) }
    this.#links.set(connectionKey, link)
    link.open.catch((err: unknown) => {
      this.#stats.connectFailures++
      this.emit('relay-error', err instanceof Error ? err : new Error(String(err)))
    })
    ws.on('message', (data, isBinary) => {
      if (isBinary) return
      const line = data.toString()
      this.#stats.messagesOut++
      for (const listener of this.#listeners) listener(connectionKey, line)
    })
    // The relay hung up: the next message of this client opens a new connection.
    ws.on('close', () => {
      if (this.#links.get(connectionKey) === link) this.#links.delete(connectionKey)
    })
    return link
  }
}

function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      ws.off('open', onOpen)
      reject(err)
    }
    const onOpen = () => {
      ws.off('error', onError)
      // Errors after open end in 'close'; this keeps them from being unhandled.
      ws.on('error', () => undefined)
      resolve()
    }
    ws.once('open', onOpen)
    ws.once('error', onError)
  })
}

// The NIP-01 answer a client waits for, for a message the relay never saw.
function refusal(message: unknown, reason: string): string[] {
  const [type, id] = Array.isArray(message) ? (message as unknown[]) : []
  if (type === 'EVENT') {
    const eventId = (id as { id?: unknown } | undefined)?.id
    return [JSON.stringify(['OK', typeof eventId === 'string' ? eventId : '', false, reason])]
  }
  if (type === 'REQ' && typeof id === 'string') return [JSON.stringify(['CLOSED', id, reason])]
  return [JSON.stringify(['NOTICE', reason])]
}

// No-network stand-ins for a session's socket, pool and leases, for unit tests
// through SessionContext.
import { EventEmitter } from 'node:events'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import type { WebSocket } from 'ws'
import type { OutgoingRequest } from '../../shared/protocol/relay-channel.js'
import type { JsonObject, RelayResponse } from '../../shared/protocol/wire.js'
import { MemoryStore } from '../../shared/store/memory-store.js'
import type { Registration } from '../../shared/store/gateway-store.js'
import type { PeerSnapshot, PeerState } from '../../shared/swarm/select-peer.js'
import { ProxyMetrics } from '../../proxy/proxy-metrics.js'
import { RegistrationCache } from '../../proxy/registration-cache.js'
import { RelaySession } from '../../proxy/relay-session.js'
import type { SessionContext, SessionIdentity, SessionLimits } from '../../proxy/session-context.js'
import { SessionRegistry } from '../../proxy/session-registry.js'

/** A WebSocket double: records what the session sends and how it closed. */
export class FakeSocket extends EventEmitter {
  readonly OPEN = 1
  readyState = 1
  bufferedAmount = 0
  readonly sent: unknown[] = []
  closedWith: [number, string] | null = null
  readonly #waiters: Array<{ pred: (m: unknown) => boolean; resolve: (m: unknown) => void }> = []

  send(text: string): void {
    const m = JSON.parse(text) as unknown
    this.sent.push(m)
    for (const w of [...this.#waiters]) {
      if (!w.pred(m)) continue
      this.#waiters.splice(this.#waiters.indexOf(w), 1)
      w.resolve(m)
    }
  }

  close(code: number, reason: string): void {
    if (this.readyState !== 1) return
    this.readyState = 3
    this.closedWith = [code, reason]
    this.emit('close', code, Buffer.from(reason))
  }

  ping(): void {}

  terminate(): void {
    this.close(1006, '')
  }

  /** The client sends `message` (JSON-encoded unless a string). */
  client(message: unknown): void {
    const text = typeof message === 'string' ? message : JSON.stringify(message)
    this.emit('message', Buffer.from(text), false)
  }

  next(pred: (m: unknown) => boolean): Promise<unknown> {
    const hit = this.sent.find(pred)
    if (hit !== undefined) return Promise.resolve(hit)
    return new Promise((resolve) => this.#waiters.push({ pred, resolve }))
  }

  asWebSocket(): WebSocket {
    return this as unknown as WebSocket
  }
}

type Handler = (req: OutgoingRequest, worker: StubWorker) => Promise<RelayResponse> | RelayResponse

/** One worker of the stub pool: answers requests with `handler`, counts its leases. */
export class StubWorker {
  readonly key: string
  state: PeerState = 'ready'
  capabilities = new Set<string>(['push'])
  handler: Handler
  readonly requests: OutgoingRequest[] = []
  readonly frames: JsonObject[] = []
  leases = 0
  releases = 0
  /** Pending while set: the link waits until it is resolved (cold start). */
  opening: Promise<void> | null = null

  constructor(key: string, handler: Handler) {
    this.key = key
    this.handler = handler
  }
}

/** A relay answer with `lines` as its body. */
export function answer(...lines: unknown[]): RelayResponse {
  const body = lines.map((l) => JSON.stringify(l)).join('\n')
  return { id: 0, statusCode: 200, headers: {}, body: Buffer.from(body) }
}

/** What a plain relay answers: OK for EVENT, EOSE for REQ, nothing else. */
export const echoRelay: Handler = (req) => {
  if (req.method !== 'POST') return { id: 0, statusCode: 200, headers: {}, body: Buffer.from('[]') }
  const { message } = JSON.parse(String(req.body)) as { message: unknown[] }
  const [verb, arg] = message
  if (verb === 'EVENT') return answer(['OK', (arg as { id: string }).id, true, ''])
  if (verb === 'REQ') return answer(['EOSE', arg])
  return answer()
}

/** A pool of stub workers, shaped like the part of PeerPool sessions and the registry use. */
export class StubPool extends EventEmitter {
  readonly workers = new Map<string, StubWorker>()

  add(key: string, handler: Handler = echoRelay): StubWorker {
    const w = new StubWorker(key, handler)
    this.workers.set(key, w)
    return w
  }

  setState(key: string, state: PeerState): void {
    const w = this.workers.get(key) as StubWorker
    const prev = w.state
    w.state = state
    this.emit('state', key, state, prev)
  }

  select(keys: readonly string[], exclude?: ReadonlySet<string>): string | null {
    for (const k of keys) {
      const w = this.workers.get(k)
      if (w !== undefined && w.state !== 'down' && exclude?.has(k) !== true) return k
    }
    return null
  }

  snapshot(key: string): PeerSnapshot {
    const w = this.workers.get(key)
    return { key, state: w?.state ?? null, inflight: 0, sessions: 0, latencyMs: null }
  }

  /** Like PeerPool.whenReady: a ready key now, or the first to become ready. */
  whenReady(keys: readonly string[], timeoutMs: number, exclude?: ReadonlySet<string>) {
    const pick = () =>
      keys.find((k) => this.workers.get(k)?.state === 'ready' && exclude?.has(k) !== true) ?? null
    const now = pick()
    if (now !== null) return Promise.resolve(now)
    return new Promise<string | null>((resolve) => {
      const onState = () => {
        const key = pick()
        if (key === null) return
        clearTimeout(timer)
        this.off('state', onState)
        resolve(key)
      }
      const timer = setTimeout(() => {
        this.off('state', onState)
        resolve(null)
      }, timeoutMs)
      this.on('state', onState)
    })
  }

  acquire(key: string): Promise<unknown> {
    const w = this.workers.get(key) as StubWorker
    return w.opening ?? Promise.resolve()
  }

  lease(key: string) {
    const w = this.workers.get(key) as StubWorker
    w.leases++
    let released = false
    return {
      key,
      supports: (c: string) => w.capabilities.has(c),
      request: (req: OutgoingRequest) => {
        w.requests.push(req)
        return Promise.resolve().then(() => w.handler(req, w))
      },
      sendWsFrame: (frame: JsonObject) => {
        w.frames.push(frame)
        return true
      },
      release: () => {
        if (released) return
        released = true
        w.releases++
      },
    }
  }

  sendWsFrame(key: string, frame: JsonObject): boolean {
    this.workers.get(key)?.frames.push(frame)
    return true
  }
}

export const STUB_LIMITS: SessionLimits = {
  maxQueuedMessages: 32,
  maxBufferedBytes: 1 << 20,
  pollIntervalMs: 50,
  messagesPerSecond: 1000,
  messageBurst: 1000,
  maxSubscriptions: 200,
  linkWaitMs: 2_000,
}

const live: SessionRegistry[] = []

/** Closes every session and registry {@link stubContext} made (for afterEach). */
export async function closeStubs(): Promise<void> {
  for (const registry of live.splice(0)) {
    registry.closeAll(1001, 'test over')
    await registry.close()
  }
}

/** A real SessionRegistry and RegistrationCache over a stub pool and a MemoryStore. */
export function stubContext(limits: Partial<SessionLimits> = {}) {
  const pool = new StubPool()
  const logger = pino({ level: 'silent' })
  const metrics = new ProxyMetrics(new Registry())
  const store = new MemoryStore()
  const cache = new RegistrationCache({ store, logger })
  const registry = new SessionRegistry({
    pool: pool as never,
    cache,
    store,
    metrics,
    logger,
    pingIntervalMs: 60_000,
  })
  live.push(registry)
  const ctx: SessionContext & { registry: SessionRegistry } = {
    pool: pool as never,
    registry,
    metrics,
    logger,
    limits: { ...STUB_LIMITS, ...limits },
  }
  return { pool, registry, cache, store, metrics, ctx }
}

export function identity(peers: string[], extra: Partial<SessionIdentity> = {}): SessionIdentity {
  const now = Date.now()
  const registration: Registration = {
    relayKey: 'r'.repeat(64),
    peers,
    metadata: {},
    nonce: null,
    issuedAt: now,
    registeredAt: now,
    expiresAt: now + 60_000,
  }
  return {
    registration,
    token: 'tok',
    tokenId: 'tid',
    tokenPayload: {},
    workerToken: 'tok',
    pubkey: null,
    ip: '192.0.2.1',
    ...extra,
  }
}

/** A started session on a fake socket, added to the registry as the proxy does. */
export function openSession(
  ctx: SessionContext & { registry: SessionRegistry },
  who: SessionIdentity,
): { session: RelaySession; ws: FakeSocket } {
  const ws = new FakeSocket()
  const session = new RelaySession(ws.asWebSocket(), who, ctx)
  ctx.registry.add(session)
  session.start()
  return { session, ws }
}

import { expect } from 'chai'
import type Hyperswarm from 'hyperswarm'
import { pino } from 'pino'
import { HANDOVER_FRAME, isHandoverAck } from '../../shared/protocol/handover-frames.js'
import { RelayChannel } from '../../shared/protocol/relay-channel.js'
import { Capability, LEGACY_CAPABILITIES } from '../../shared/protocol/wire.js'
import type { JsonObject } from '../../shared/protocol/wire.js'
import type { RelayBackend } from '../../shared/worker/relay-backend.js'
import { RelayHost } from '../../shared/worker/relay-host.js'
import { createFramedPair } from '../helpers/framed-pair.js'

const RELAY = 'b'.repeat(64)
const CK = 'c'.repeat(32)
const GATEWAY = Buffer.alloc(32, 0xaa)
const GATEWAY_CAPS = [...LEGACY_CAPABILITIES, Capability.PUSH, Capability.HANDOVER]

// No network in unit tests: the host only needs the swarm's key pair here.
const swarmStub = {
  keyPair: { publicKey: Buffer.alloc(32, 0xcc), secretKey: Buffer.alloc(64) },
  on() {},
  off() {},
} as unknown as Hyperswarm

/** A backend whose answer to a message waits until the test releases it. */
class HeldBackend implements RelayBackend {
  #listener: ((key: string, line: string) => void) | null = null
  readonly #waiting: Array<() => void> = []
  handleMessage(): Promise<string[]> {
    return new Promise((resolve) => this.#waiting.push(() => resolve(['["OK","e1",true,""]'])))
  }
  onOutput(listener: (key: string, line: string) => void): () => void {
    this.#listener = listener
    return () => (this.#listener = null)
  }
  closeConnection(): void {}
  release(): void {
    this.#waiting.shift()?.()
  }
  get waiting(): number {
    return this.#waiting.length
  }
  emit(key: string, line: string): void {
    this.#listener?.(key, line)
  }
}

/** What one gateway link saw, in arrival order: pushes, acknowledgement, answers settled by then. */
interface Link {
  gateway: RelayChannel
  seen: string[]
  next(n: number): Promise<void>
}

async function link(host: RelayHost, capabilities: readonly string[]): Promise<Link> {
  const [g, w] = createFramedPair()
  Object.assign(w, { remotePublicKey: GATEWAY })
  const seen: string[] = []
  const waiters: Array<{ n: number; resolve: () => void }> = []
  const gateway = new RelayChannel(g, { isServer: false, gateway: true, capabilities })
  gateway.on('wsframe', (f: JsonObject) => {
    // An acknowledgement arriving while an answer is unread would be out of order.
    seen.push(isHandoverAck(f) ? `ack (unanswered: ${gateway.pendingCount})` : String(f.data))
    for (const x of waiters.filter((x) => seen.length >= x.n)) x.resolve()
  })
  const worker = host.serve(w)
  await Promise.all([gateway.opened(), worker.opened()])
  const next = (n: number) =>
    seen.length >= n ? Promise.resolve() : new Promise<void>((r) => waiters.push({ n, resolve: r }))
  return { gateway, seen, next }
}

function post(channel: RelayChannel) {
  return channel.request({
    method: 'POST',
    path: `/post/relay/${RELAY}`,
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify({ message: ['EVENT', { id: 'e1' }], connectionKey: CK })),
  })
}

const until = (cond: () => boolean) =>
  new Promise<void>((resolve) => {
    const poll = (): void => (cond() ? resolve() : void setImmediate(poll))
    poll()
  })

describe('RelayHost: a gateway hands a link over (handover)', () => {
  let backend: HeldBackend
  let host: RelayHost

  beforeEach(() => {
    backend = new HeldBackend()
    host = new RelayHost({
      swarm: swarmStub,
      logger: pino({ level: 'silent' }),
      relays: [{ relayKey: RELAY, backend }],
    })
  })

  afterEach(async () => {
    await host.close()
  })

  it('answers the posts in flight on the old link, acknowledges, and pushes on the new one after', async () => {
    const old = await link(host, GATEWAY_CAPS)
    const answer = post(old.gateway)
    await until(() => backend.waiting === 1)
    const next = await link(host, GATEWAY_CAPS)
    old.gateway.sendWsFrame(HANDOVER_FRAME)
    await new Promise((resolve) => setImmediate(resolve))
    // The session's post is still being handled: its output stays on the old link.
    backend.emit(CK, 'live-1')
    await old.next(1)
    backend.release()
    expect((await answer).statusCode).to.equal(200)
    await old.next(2)
    backend.emit(CK, 'live-2')
    await next.next(1)
    expect(old.seen).to.deep.equal(['live-1', 'ack (unanswered: 0)'])
    expect(next.seen).to.deep.equal(['live-2'])
  })

  it('queues pushes for the new link when it is not open yet, and sends them once it is', async () => {
    const old = await link(host, GATEWAY_CAPS)
    const answer = post(old.gateway)
    await until(() => backend.waiting === 1)
    backend.release()
    await answer
    old.gateway.sendWsFrame(HANDOVER_FRAME)
    await old.next(1)
    backend.emit(CK, 'queued')
    const next = await link(host, GATEWAY_CAPS)
    await next.next(1)
    expect(old.seen).to.deep.equal(['ack (unanswered: 0)'])
    expect(next.seen).to.deep.equal(['queued'])
  })

  it('ignores a handover frame from a gateway that did not negotiate handover', async () => {
    const old = await link(host, [...LEGACY_CAPABILITIES, Capability.PUSH])
    const answer = post(old.gateway)
    await until(() => backend.waiting === 1)
    backend.release()
    await answer
    old.gateway.sendWsFrame(HANDOVER_FRAME)
    await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setImmediate(resolve))
    backend.emit(CK, 'still-here')
    await old.next(1)
    expect(old.seen).to.deep.equal(['still-here'])
  })
})

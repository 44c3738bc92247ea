import { expect } from 'chai'
import type Hyperswarm from 'hyperswarm'
import { pino } from 'pino'
import { RelayChannel } from '../../shared/protocol/relay-channel.js'
import { Capability } from '../../shared/protocol/wire.js'
import type { JsonObject } from '../../shared/protocol/wire.js'
import type { RelayBackend } from '../../shared/worker/relay-backend.js'
import { RelayHost } from '../../shared/worker/relay-host.js'
import { createFramedPair } from '../helpers/framed-pair.js'

const RELAY = 'b'.repeat(64)
const CK = 'c'.repeat(32)
const GATEWAY = Buffer.alloc(32, 0xaa)
const OTHER_GATEWAY = Buffer.alloc(32, 0xbb)

// No network in unit tests: the host only needs the swarm's key pair here.
const swarmStub = {
  keyPair: { publicKey: Buffer.alloc(32, 0xcc), secretKey: Buffer.alloc(64) },
  on() {},
  off() {},
} as unknown as Hyperswarm

/** A backend whose answers come later, as a relay's OK over its own WebSocket does. */
class LaterBackend implements RelayBackend {
  #listener: ((key: string, line: string) => void) | null = null
  handleMessage(): string[] {
    return []
  }
  onOutput(listener: (key: string, line: string) => void): () => void {
    this.#listener = listener
    return () => {
      this.#listener = null
    }
  }
  closeConnection(): void {}
  emit(key: string, line: string): void {
    this.#listener?.(key, line)
  }
}

interface Link {
  gateway: RelayChannel
  worker: RelayChannel
  frames: JsonObject[]
  /** Resolves once `n` push frames have arrived at the gateway end. */
  received(n: number): Promise<void>
}

// One gateway link as the worker sees it: a channel on a stream whose Noise key is `from`.
async function link(host: RelayHost, from: Buffer): Promise<Link> {
  const [g, w] = createFramedPair()
  Object.assign(w, { remotePublicKey: from })
  const frames: JsonObject[] = []
  const waiters: Array<{ n: number; resolve: () => void }> = []
  const gateway = new RelayChannel(g, {
    isServer: false,
    gateway: true,
    capabilities: [Capability.HTTP, Capability.WEBSOCKET, Capability.HEALTH, Capability.PUSH],
  })
  gateway.on('wsframe', (f: JsonObject) => {
    frames.push(f)
    for (const w of waiters.filter((w) => frames.length >= w.n)) w.resolve()
  })
  const worker = host.serve(w)
  await Promise.all([gateway.opened(), worker.opened()])
  const received = (n: number) =>
    frames.length >= n
      ? Promise.resolve()
      : new Promise<void>((resolve) => waiters.push({ n, resolve }))
  return { gateway, worker, frames, received }
}

function post(channel: RelayChannel, message: unknown) {
  return channel.request({
    method: 'POST',
    path: `/post/relay/${RELAY}`,
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify({ message, connectionKey: CK })),
  })
}

// A push gateway never polls: a line parked in the poll queue is a lost answer.
describe('RelayHost keeps pushing when a gateway replaces its link', () => {
  let backend: LaterBackend
  let host: RelayHost

  beforeEach(() => {
    backend = new LaterBackend()
    host = new RelayHost({
      swarm: swarmStub,
      logger: pino({ level: 'silent' }),
      relays: [{ relayKey: RELAY, backend }],
    })
  })

  afterEach(async () => {
    await host.close()
  })

  it("moves a session's pushes to the same gateway's other open link when its link closes", async () => {
    const first = await link(host, GATEWAY)
    const stranger = await link(host, OTHER_GATEWAY)
    await post(first.gateway, ['EVENT', { id: 'e1' }])
    const second = await link(host, GATEWAY)
    await first.worker.close()
    backend.emit(CK, '["OK","e1",true,""]')
    await second.received(1)
    expect(second.frames).to.deep.equal([{ connectionKey: CK, data: '["OK","e1",true,""]' }])
    expect(first.frames).to.deep.equal([])
    expect(stranger.frames).to.deep.equal([])
  })

  it('sends what it queued while the gateway had no link as soon as a new one opens', async () => {
    const first = await link(host, GATEWAY)
    await post(first.gateway, ['EVENT', { id: 'e2' }])
    await first.worker.close()
    backend.emit(CK, '["OK","e2",true,""]')
    backend.emit(CK, '["EVENT","s",{}]')
    const stranger = await link(host, OTHER_GATEWAY)
    const second = await link(host, GATEWAY)
    await second.received(2)
    expect(second.frames.map((f) => f.data)).to.deep.equal([
      '["OK","e2",true,""]',
      '["EVENT","s",{}]',
    ])
    // Later output follows the new link too.
    backend.emit(CK, '["EOSE","s"]')
    await second.received(3)
    expect(second.frames[2]?.data).to.equal('["EOSE","s"]')
    expect(stranger.frames).to.deep.equal([])
  })
})

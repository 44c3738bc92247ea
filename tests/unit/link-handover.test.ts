import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import type { NoiseSecretStream } from 'hyperdht'
import { pino } from 'pino'
import { HANDOVER_ACK_FRAME } from '../../shared/protocol/handover-frames.js'
import { RelayChannel } from '../../shared/protocol/relay-channel.js'
import { Router } from '../../shared/protocol/router.js'
import type { RouteResponse } from '../../shared/protocol/router.js'
import { Capability, LEGACY_CAPABILITIES } from '../../shared/protocol/wire.js'
import type { JsonObject } from '../../shared/protocol/wire.js'
import { PeerConnection } from '../../shared/swarm/peer-connection.js'
import type { PeerHost, PeerPolicy } from '../../shared/swarm/peer-connection.js'
import { DEFAULT_PEER_POLICY } from '../../shared/swarm/peer-policy.js'
import { FramedEnd } from '../helpers/framed-pair.js'
import { StubStream } from '../helpers/stub-stream.js'

const POLICY: PeerPolicy = {
  ...DEFAULT_PEER_POLICY,
  healthIntervalMs: 60_000,
  identify: false,
  backoff: { minMs: 60_000, maxMs: 60_000 },
}
const KIT = [...LEGACY_CAPABILITIES, Capability.PUSH, Capability.HANDOVER]
const OK: RouteResponse = { statusCode: 200, headers: {}, body: null }

/** The worker's end of one link: its channel, what it received, and its slow answers. */
interface WorkerEnd {
  channel: RelayChannel
  frames: JsonObject[]
  paths: string[]
  /** Answers the oldest `GET /slow` still waiting. */
  finishSlow(): void
}

async function workerEnd(stream: StubStream, capabilities: readonly string[]): Promise<WorkerEnd> {
  const end = new FramedEnd()
  end.peer = stream
  stream.peer = end
  stream.once('close', () => end.destroy())
  const paths: string[] = []
  const slow: Array<() => void> = []
  const router = new Router()
    .get('/x', (req) => (paths.push(req.path), OK))
    .get('/slow', (req) => {
      paths.push(req.path)
      return new Promise<RouteResponse>((resolve) => slow.push(() => resolve(OK)))
    })
  const channel = new RelayChannel(end, {
    isServer: true,
    capabilities,
    router,
    healthServices: () => ({}),
  })
  const frames: JsonObject[] = []
  channel.on('wsframe', (f: JsonObject) => frames.push(f))
  stream.open()
  await channel.opened()
  return { channel, frames, paths, finishSlow: () => slow.shift()?.() }
}

function until(cond: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const poll = (): void => (cond() ? resolve() : void setImmediate(poll))
    poll()
  })
}

/** A connection with an open dialled link to a worker advertising `capabilities`. */
async function connected(capabilities: readonly string[], policy: Partial<PeerPolicy> = {}) {
  const key = randomBytes(32)
  const dials: StubStream[] = []
  const host: PeerHost = {
    dial(publicKey) {
      const stream = new StubStream(publicKey)
      dials.push(stream)
      return stream as unknown as NoiseSecretStream
    },
    canRelay: false,
    gatewayKeyHex: '00'.repeat(32),
    logger: pino({ level: 'silent' }),
  }
  const conn = new PeerConnection(key, { ...POLICY, ...policy }, host)
  const pushes: unknown[] = []
  const outcomes: string[] = []
  conn.on('wsframe', (f: JsonObject) => pushes.push(f.data))
  conn.on('handover', (outcome: string) => outcomes.push(outcome))
  conn.connect()
  const oldStream = dials[0] as StubStream
  const old = await workerEnd(oldStream, capabilities)
  await until(() => conn.state === 'ready')
  /** The worker dials in; resolves once the pool has switched to that link. */
  const dialIn = async (): Promise<WorkerEnd> => {
    const inbound = new StubStream(key)
    conn.adopt(inbound as unknown as NoiseSecretStream)
    const end = await workerEnd(inbound, capabilities)
    await until(() => conn.link === (inbound as unknown as NoiseSecretStream))
    return end
  }
  return { conn, old, oldStream, pushes, outcomes, dialIn }
}

const push = (end: WorkerEnd, data: string) =>
  end.channel.sendWsFrame({ connectionKey: 'c'.repeat(32), data })

describe('PeerConnection: ordered handover of a replaced link (no network)', () => {
  it('drains the old link: its pushes first, then the new one, requests held until the acknowledgement', async () => {
    const { conn, old, oldStream, pushes, outcomes, dialIn } = await connected(KIT)
    const slow = conn.request({ method: 'GET', path: '/slow' })
    await until(() => old.paths.length === 1)
    const next = await dialIn()
    await until(() => old.frames.length === 1)
    expect(old.frames).to.deep.equal([{ type: 'handover' }])

    // The worker wrote to the old link before it saw the switch, and to the new one after.
    push(old, 'a1')
    push(next, 'b1')
    const held = conn.request({ method: 'GET', path: '/x' })
    const closeFrame = conn.sendWsFrame({ connectionKey: 'c'.repeat(32), type: 'close' })
    push(old, 'a2')
    await until(() => pushes.length === 2)
    await new Promise((resolve) => setImmediate(resolve))
    expect(pushes).to.deep.equal(['a1', 'a2'])
    expect(next.paths).to.deep.equal([])
    expect(next.frames).to.deep.equal([])
    expect(closeFrame).to.equal(true)

    old.channel.sendWsFrame(HANDOVER_ACK_FRAME)
    expect((await held).statusCode).to.equal(200)
    expect(pushes).to.deep.equal(['a1', 'a2', 'b1'])
    expect(next.paths).to.deep.equal(['/x'])
    await until(() => next.frames.length === 1)
    expect(next.frames).to.deep.equal([{ connectionKey: 'c'.repeat(32), type: 'close' }])
    // The call still on the old link is answered there, then the link closes.
    expect(oldStream.destroyed).to.equal(false)
    old.finishSlow()
    expect((await slow).statusCode).to.equal(200)
    await until(() => outcomes.length === 1)
    expect(oldStream.destroyed).to.equal(true)
    expect(outcomes).to.deep.equal(['acked'])
    expect(conn.state).to.equal('ready')
    await conn.close()
  })

  it('drops the old link after the grace period when the worker never acknowledges', async () => {
    const { conn, oldStream, outcomes, dialIn } = await connected(KIT, { handoverGraceMs: 30 })
    const next = await dialIn()
    const held = conn.request({ method: 'GET', path: '/x' })
    expect((await held).statusCode).to.equal(200)
    expect(next.paths).to.deep.equal(['/x'])
    expect(oldStream.destroyed).to.equal(true)
    await until(() => outcomes.length === 1)
    expect(outcomes).to.deep.equal(['timeout'])
    await conn.close()
  })

  it('stops holding traffic at once when the old link does not even acknowledge the frame (the worker lost it and redialled)', async () => {
    const { conn, oldStream, outcomes, dialIn } = await connected(KIT, {
      handoverGraceMs: 60_000,
      probeTimeoutMs: 20,
    })
    oldStream.acks = false
    const next = await dialIn()
    expect((await conn.request({ method: 'GET', path: '/x' })).statusCode).to.equal(200)
    expect(next.paths).to.deep.equal(['/x'])
    expect(oldStream.destroyed).to.equal(true)
    await until(() => outcomes.length === 1)
    expect(outcomes).to.deep.equal(['lost'])
    await conn.close()
  })

  it('ends the handover when the old link closes first', async () => {
    const { conn, old, outcomes, dialIn } = await connected(KIT)
    await dialIn()
    const held = conn.request({ method: 'GET', path: '/x' })
    await old.channel.close()
    expect((await held).statusCode).to.equal(200)
    await until(() => outcomes.length === 1)
    expect(outcomes).to.deep.equal(['closed'])
    await conn.close()
  })

  it('drops a legacy peer\u2019s replaced link at once and sends it nothing new', async () => {
    const { conn, old, oldStream, outcomes, dialIn } = await connected(LEGACY_CAPABILITIES)
    const next = await dialIn()
    expect(oldStream.destroyed).to.equal(true)
    expect((await conn.request({ method: 'GET', path: '/x' })).statusCode).to.equal(200)
    expect(next.paths).to.deep.equal(['/x'])
    expect(old.frames).to.deep.equal([])
    expect(outcomes).to.deep.equal([])
    await conn.close()
  })

  it('aborts a handover in progress when the pool closes, closing both links', async () => {
    const { conn, oldStream, outcomes, dialIn } = await connected(KIT)
    await dialIn()
    const held = conn.request({ method: 'GET', path: '/x' })
    await conn.close()
    expect(oldStream.destroyed).to.equal(true)
    const err = await held.then(
      () => null,
      (e: { code?: string }) => e,
    )
    expect(err?.code).to.equal('PEER_UNREACHABLE')
    expect(outcomes).to.deep.equal(['aborted'])
  })
})

import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import type { NoiseSecretStream } from 'hyperdht'
import { pino } from 'pino'
import { RelayChannel } from '../../shared/protocol/relay-channel.js'
import { Router } from '../../shared/protocol/router.js'
import { PeerConnection } from '../../shared/swarm/peer-connection.js'
import type { PeerHost, PeerPolicy } from '../../shared/swarm/peer-connection.js'
import { DEFAULT_PEER_POLICY } from '../../shared/swarm/peer-policy.js'
import type { PeerState } from '../../shared/swarm/select-peer.js'
import { FramedEnd } from '../helpers/framed-pair.js'
import { StubStream } from '../helpers/stub-stream.js'

/** Pairs `stream` with an in-memory worker answering GET /x. */
function serve(stream: StubStream): RelayChannel {
  const end = new FramedEnd()
  end.peer = stream
  stream.peer = end
  stream.once('close', () => end.destroy())
  return new RelayChannel(end, {
    isServer: true,
    router: new Router().get('/x', () => ({ statusCode: 200, headers: {}, body: null })),
    healthServices: () => ({}),
  })
}

const POLICY: PeerPolicy = {
  ...DEFAULT_PEER_POLICY,
  healthIntervalMs: 60_000,
  identify: false,
  backoff: { minMs: 60_000, maxMs: 60_000 },
}

function harness(canRelay = false) {
  const key = randomBytes(32)
  const dials: Array<{ stream: StubStream; relayed: boolean }> = []
  const host: PeerHost = {
    dial(publicKey, relayed) {
      const stream = new StubStream(publicKey)
      dials.push({ stream, relayed })
      return stream as unknown as NoiseSecretStream
    },
    canRelay,
    gatewayKeyHex: '00'.repeat(32),
    logger: pino({ level: 'silent' }),
  }
  const conn = new PeerConnection(key, POLICY, host)
  const states: PeerState[] = []
  const events: unknown[][] = []
  conn.on('state', (s: PeerState) => states.push(s))
  for (const name of ['dial', 'request', 'link-lost']) {
    conn.on(name, (...args: unknown[]) => events.push([name, ...args]))
  }
  return { key, conn, dials, states, events }
}

async function opened(stream: StubStream): Promise<RelayChannel> {
  const worker = serve(stream)
  stream.open()
  await worker.opened()
  return worker
}

function until(cond: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const poll = (): void => (cond() ? resolve() : void setImmediate(poll))
    poll()
  })
}

describe('PeerConnection (no network)', () => {
  it('dials, opens, serves a request and reports it in stats and events', async () => {
    const { conn, dials, states, events } = harness()
    const open = conn.whenOpen()
    expect(dials).to.have.length(1)
    await opened((dials[0] as { stream: StubStream }).stream)
    await open
    const res = await conn.request({ method: 'GET', path: '/x' })
    expect(res.statusCode).to.equal(200)
    expect(states).to.deep.equal(['connecting', 'ready'])
    expect(events).to.deep.include(['dial', 'ok', null, false])
    const req = events.find((e) => e[0] === 'request') as unknown[]
    expect(req.slice(0, 3)).to.deep.equal(['request', 'other', 'ok'])
    expect(conn.stats).to.include({ requests: 1, requestFailures: 0, inflight: 0, dials: 1 })
    expect(conn.stats.serviceMs).to.be.a('number')
    expect(conn.stats.healthRttMs).to.equal(null)
    await conn.close()
    await conn.close()
    expect(conn.listenerCount('state')).to.equal(0)
  })

  it('drops a link whose probe goes unacknowledged, and only then', async () => {
    const { conn, dials, states, events } = harness()
    conn.connect()
    const stream = (dials[0] as { stream: StubStream }).stream
    await opened(stream)
    await until(() => conn.state === 'ready')
    const t0 = 1_000_000
    const { probeIntervalMs, probeTimeoutMs } = POLICY
    conn.tick(t0)
    expect(stream.keepAlives).to.equal(1)
    await Promise.resolve()
    conn.tick(t0 + probeIntervalMs / 2)
    expect(stream.keepAlives).to.equal(1)
    stream.acks = false
    conn.tick(t0 + probeIntervalMs)
    expect(stream.keepAlives).to.equal(2)
    conn.tick(t0 + probeIntervalMs + probeTimeoutMs - 1)
    expect(conn.state).to.equal('ready')
    conn.tick(t0 + probeIntervalMs + probeTimeoutMs)
    await until(() => conn.state === 'down')
    expect(states).to.deep.equal(['connecting', 'ready', 'down'])
    expect(events.filter((e) => e[0] === 'link-lost')).to.deep.equal([['link-lost', 'probe']])
    await conn.close()
  })

  it('retries a failed punch through a blind relay at once, counting the code', async () => {
    const { conn, dials, events } = harness(true)
    conn.connect()
    ;(dials[0] as { stream: StubStream }).stream.fail('HOLEPUNCH_ABORTED')
    await until(() => dials.length === 2)
    expect(dials.map((d) => d.relayed)).to.deep.equal([false, true])
    await opened((dials[1] as { stream: StubStream }).stream)
    await until(() => conn.state === 'ready')
    expect(events.filter((e) => e[0] === 'dial')).to.deep.equal([
      ['dial', 'failed', 'HOLEPUNCH_ABORTED', false],
      ['dial', 'ok', null, true],
    ])
    expect(conn.stats).to.include({ relayed: true, dials: 2, dialFailures: 1 })
    await conn.close()
  })

  it('backs off (no relay) when no relay is configured or the code is not a punching one', async () => {
    const { conn, dials, states } = harness(true)
    conn.connect()
    ;(dials[0] as { stream: StubStream }).stream.fail('PEER_NOT_FOUND')
    await until(() => conn.state === 'down')
    expect(dials).to.have.length(1)
    expect(states).to.deep.equal(['connecting', 'down'])
    await conn.close()
  })

  it('takes over an inbound link: the open one serves until the new channel is up', async () => {
    const { key, conn, dials, states, events } = harness()
    conn.connect()
    const first = (dials[0] as { stream: StubStream }).stream
    await opened(first)
    await until(() => conn.state === 'ready')
    const inbound = new StubStream(key)
    expect(conn.adopt(inbound as unknown as NoiseSecretStream)).to.equal(true)
    expect(conn.isOpen).to.equal(true)
    expect((await conn.request({ method: 'GET', path: '/x' })).statusCode).to.equal(200)
    await opened(inbound)
    await until(() => first.destroyed)
    expect(conn.stats.inbound).to.equal(true)
    expect((await conn.request({ method: 'GET', path: '/x' })).statusCode).to.equal(200)
    expect(states).to.deep.equal(['connecting', 'ready'])
    expect(events.filter((e) => e[0] === 'link-lost')).to.deep.equal([])
    await conn.close()
  })

  it('refuses a link whose Noise key is not the peer', async () => {
    const { conn, dials, events } = harness()
    conn.connect()
    const first = (dials[0] as { stream: StubStream }).stream
    Object.defineProperty(first, 'remotePublicKey', { value: randomBytes(32) })
    first.open()
    await until(() => conn.state === 'down')
    expect(events).to.deep.include(['dial', 'key_mismatch', null, false])
    await conn.close()
  })
})

import { expect } from 'chai'
import fc from 'fast-check'
import Protomux from 'protomux'
import type { Channel, ProtomuxMessage } from 'protomux'
import { ErrorCode } from '../../shared/errors.js'
import { TunnelStream } from '../../shared/tunnel/tunnel-stream.js'
import {
  creditEncoding,
  dataEncoding,
  endEncoding,
  errorEncoding,
  TUNNEL_MAX_CHUNK,
  TUNNEL_PROTOCOL,
  TUNNEL_WINDOW,
  tunnelHandshakeEncoding,
} from '../../shared/tunnel/tunnel-wire.js'
import type { TunnelHandshake } from '../../shared/tunnel/tunnel-wire.js'
import { createFramedPair } from '../helpers/framed-pair.js'
import type { FramedEnd } from '../helpers/framed-pair.js'
import { fuzzBudget } from './fuzz-budget.js'
import { trapUncaught } from './trap-uncaught.js'

/** The worker's end of one tunnel, written by hand so it can break every rule. */
interface RogueEnd {
  channel: Channel<TunnelHandshake | null>
  data: ProtomuxMessage<Uint8Array>
  credit: ProtomuxMessage<number>
  end: ProtomuxMessage<null>
  error: ProtomuxMessage<string>
}

function rogueWorker(end: FramedEnd): Promise<RogueEnd> {
  const mux = Protomux.from(end)
  return new Promise((resolve) => {
    mux.pair({ protocol: TUNNEL_PROTOCOL }, () => {
      const channel = mux.createChannel<TunnelHandshake | null>({
        protocol: TUNNEL_PROTOCOL,
        unique: false,
        handshake: tunnelHandshakeEncoding,
      })
      if (channel === null) throw new Error('rogue channel not created')
      const rogue: RogueEnd = {
        channel,
        data: channel.addMessage({ encoding: dataEncoding }),
        credit: channel.addMessage({ encoding: creditEncoding }),
        end: channel.addMessage({ encoding: endEncoding }),
        error: channel.addMessage({ encoding: errorEncoding }),
      }
      channel.open({})
      resolve(rogue)
    })
  })
}

function closedWith(tunnel: TunnelStream): Promise<unknown> {
  let error: unknown = null
  tunnel.on('error', (err) => (error = err))
  if (tunnel.destroyed) return Promise.resolve(error)
  return new Promise((resolve) => tunnel.once('close', () => resolve(error)))
}

// Issue 13, a misbehaving worker: the proxy's end of a tunnel holds at most one window of
// unread bytes and never takes more credit than it spent, whatever the worker sends; breaking
// either rule resets that tunnel (TUNNEL_RESET), never the process.
describe('tunnel fuzz: a worker that breaks the tunnel rules', function () {
  this.timeout(60_000)
  const trap = trapUncaught()
  let a: FramedEnd
  let b: FramedEnd

  beforeEach(() => {
    ;[a, b] = createFramedPair()
    a.on('error', () => {})
    b.on('error', () => {})
  })

  afterEach(() => {
    a.destroy()
    b.destroy()
    expect(trap.errors.map(String)).to.deep.equal([])
  })

  after(() => trap.release())

  it('resets a tunnel whose worker sends past the window (no credit), holding one window at most', async () => {
    const rogue = rogueWorker(b)
    const tunnel = new TunnelStream(a, { service: 'ws:x' })
    const closed = closedWith(tunnel)
    const r = await rogue
    // Nobody reads the tunnel: no credit is ever granted, so past TUNNEL_WINDOW is a violation.
    const chunk = Buffer.alloc(TUNNEL_MAX_CHUNK, 1)
    for (let sent = 0; sent < 4 * TUNNEL_WINDOW && !tunnel.destroyed; sent += chunk.length) {
      r.data.send(chunk)
    }
    expect(await closed).to.have.property('code', ErrorCode.TUNNEL_RESET)
    expect(tunnel.stats.bytesIn).to.be.at.most(TUNNEL_WINDOW)
  })

  it('resets a tunnel whose worker grants more credit than it was sent', async () => {
    const rogue = rogueWorker(b)
    const tunnel = new TunnelStream(a, { service: 'ws:x' })
    const closed = closedWith(tunnel)
    const r = await rogue
    r.credit.send(Number.MAX_SAFE_INTEGER)
    expect(await closed).to.have.property('code', ErrorCode.TUNNEL_RESET)
  })

  it('never throws for any sequence of data, credit, end and error messages', async () => {
    const message = fc.oneof(
      fc.record({ kind: fc.constant('data' as const), bytes: fc.uint8Array({ maxLength: 2048 }) }),
      fc.record({ kind: fc.constant('credit' as const), n: fc.nat() }),
      fc.record({ kind: fc.constant('end' as const) }),
      fc.record({ kind: fc.constant('error' as const), code: fc.string({ maxLength: 40 }) }),
    )
    await fc.assert(
      fc.asyncProperty(fc.array(message, { maxLength: 30 }), async (messages) => {
        const [x, y] = createFramedPair()
        x.on('error', () => {})
        y.on('error', () => {})
        const rogue = rogueWorker(y)
        const tunnel = new TunnelStream(x, { service: 'ws:x' })
        const closed = closedWith(tunnel)
        tunnel.resume()
        tunnel.write(Buffer.alloc(100))
        const r = await rogue
        for (const m of messages) {
          if (m.kind === 'data') r.data.send(m.bytes)
          else if (m.kind === 'credit') r.credit.send(m.n)
          else if (m.kind === 'end') r.end.send(null)
          else r.error.send(m.code)
        }
        r.channel.close()
        const err = await closed
        if (err !== null) expect(err).to.have.property('code').that.is.a('string')
        x.destroy()
        y.destroy()
      }),
      fuzzBudget(),
    )
  })
})

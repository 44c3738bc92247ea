import { expect } from 'chai'
import { once } from 'node:events'
import { GatewayError, ErrorCode } from '../../shared/errors.js'
import {
  closeStubs,
  echoRelay,
  identity,
  openSession,
  stubContext,
} from '../helpers/session-stubs.js'

const A = 'a'.repeat(64)
const B = 'b'.repeat(64)
const ev = (n: number) => ({ id: n.toString(16).padStart(64, '0'), kind: 1, content: `e${n}` })
const isVerb = (verb: string, id?: string) => (m: unknown) =>
  Array.isArray(m) && m[0] === verb && (id === undefined || m[1] === id)

describe('RelaySession (stub pool, no network)', () => {
  afterEach(closeStubs)

  it('links through one lease, forwards in order, releases the lease once on close', async () => {
    const { pool, ctx } = stubContext()
    const a = pool.add(A)
    const { session, ws } = openSession(ctx, identity([A]))
    expect(session.state).to.equal('starting')
    ws.client(['REQ', 's', { kinds: [1] }])
    ws.client(['EVENT', ev(1)])
    await ws.next(isVerb('OK'))
    expect(session.state).to.equal('open')
    expect(session.peer).to.equal(A)
    expect(ws.sent).to.deep.equal([
      ['EOSE', 's'],
      ['OK', ev(1).id, true, ''],
    ])
    expect(a.leases).to.equal(1)
    ws.close(1000, 'bye')
    session.close(1000, 'again')
    expect(session.state).to.equal('closed')
    expect(a.releases).to.equal(1)
    // CLOSE on leave for the open subscription, then the push close frame.
    const last = a.requests.at(-1) as { body: string }
    expect(JSON.parse(last.body).message).to.deep.equal(['CLOSE', 's'])
    expect(a.frames).to.deep.equal([{ connectionKey: session.connectionKey, type: 'close' }])
  })

  it('lets messages wait while the first link comes up, then answers them', async () => {
    const { pool, ctx } = stubContext()
    const a = pool.add(A)
    let open!: () => void
    a.opening = new Promise((resolve) => (open = resolve))
    const { session, ws } = openSession(ctx, identity([A]))
    ws.client(['EVENT', ev(1)])
    ws.client(['REQ', 'w', {}])
    await new Promise((r) => setImmediate(r))
    expect(ws.sent).to.deep.equal([])
    expect(session.state).to.equal('starting')
    open()
    await ws.next(isVerb('EOSE', 'w'))
    expect(ws.sent).to.deep.equal([
      ['OK', ev(1).id, true, ''],
      ['EOSE', 'w'],
    ])
  })

  it('refuses waiting messages in kind when no link comes up in time, then closes 1013', async () => {
    const { pool, ctx } = stubContext({ linkWaitMs: 50 })
    pool.add(A).opening = new Promise(() => {})
    const { ws } = openSession(ctx, identity([A]))
    ws.client(['EVENT', ev(1)])
    ws.client(['REQ', 'w', {}])
    const [code] = (await once(ws, 'close')) as [number]
    expect(code).to.equal(1013)
    expect(ws.sent[0]).to.deep.equal(['OK', ev(1).id, false, 'error: no peer available'])
    expect(ws.sent[1]).to.deep.equal(['CLOSED', 'w', 'error: no peer available'])
  })

  it('moves to another worker on a retryable error, replays the subscription, keeps order', async () => {
    const { pool, ctx, registry } = stubContext()
    const a = pool.add(A)
    const b = pool.add(B)
    const { session, ws } = openSession(ctx, identity([A, B]))
    ws.client(['REQ', 's', { kinds: [1] }])
    await ws.next(isVerb('EOSE', 's'))
    a.handler = () => Promise.reject(new GatewayError(ErrorCode.CHANNEL_CLOSED, 'gone'))
    const moved = once(registry, 'failover')
    ws.client(['EVENT', ev(2)])
    const [who, from, to] = await moved
    expect([who, from, to]).to.deep.equal([session, A, B])
    await ws.next(isVerb('OK', ev(2).id))
    expect(a.releases).to.equal(1)
    // Replayed REQ first, then the EVENT that waited; the repeated EOSE is dropped.
    const bodies = b.requests.map((r) => JSON.parse(String(r.body)).message[0])
    expect(bodies).to.deep.equal(['REQ', 'EVENT'])
    expect(ws.sent.filter(isVerb('EOSE'))).to.have.length(1)
    expect(registry.onPeer(B)).to.deep.equal([session])
    expect(registry.onPeer(A)).to.deep.equal([])
  })

  it('answers a non-retryable worker error and a non-200 answer in kind', async () => {
    const { pool, ctx } = stubContext()
    pool.add(A, (req) => {
      const { message } = JSON.parse(String(req.body)) as { message: unknown[] }
      if (message[0] === 'EVENT')
        return Promise.reject(new GatewayError(ErrorCode.PROTOCOL_ERROR, 'bad frame'))
      return {
        id: 0,
        statusCode: 404,
        headers: {},
        body: Buffer.from('{"error":"relay not found"}'),
      }
    })
    const { ws } = openSession(ctx, identity([A]))
    ws.client(['EVENT', ev(3)])
    ws.client(['REQ', 'x', {}])
    await ws.next(isVerb('CLOSED', 'x'))
    expect(ws.sent).to.deep.equal([
      ['OK', ev(3).id, false, 'error: bad frame'],
      ['CLOSED', 'x', 'error: relay answered 404: relay not found'],
    ])
  })

  it('bounds subscriptions: ids over 64 characters invalid, past the maximum rate-limited', async () => {
    const { pool, ctx } = stubContext({ maxSubscriptions: 3 })
    pool.add(A)
    const { session, ws } = openSession(ctx, identity([A]))
    ws.client(['REQ', 'x'.repeat(65), {}])
    for (const id of ['a', 'b', 'c', 'd']) ws.client(['REQ', id, {}])
    ws.client(['CLOSE', 'a'])
    ws.client(['REQ', 'e', {}])
    await ws.next(isVerb('EOSE', 'e'))
    expect(ws.sent[0]).to.deep.equal([
      'CLOSED',
      'x'.repeat(65),
      'invalid: subscription id longer than 64 characters',
    ])
    const refusedD = ws.sent.find(isVerb('CLOSED', 'd')) as string[]
    expect(refusedD[2]).to.match(/^rate-limited: too many open subscriptions/)
    expect(session.subscriptionIds.sort()).to.deep.equal(['b', 'c', 'e'])
  })

  it('limits the per-session message rate with a burst, answering each refusal', async () => {
    const { pool, ctx } = stubContext({ messagesPerSecond: 1, messageBurst: 5 })
    pool.add(A)
    const { ws } = openSession(ctx, identity([A]))
    for (let i = 0; i < 8; i++) ws.client(['EVENT', ev(i)])
    await ws.next(() => ws.sent.filter(isVerb('OK')).length === 8)
    const oks = ws.sent.filter(isVerb('OK')) as unknown[][]
    expect(oks.filter((m) => m[2] === true)).to.have.length(5)
    const refused = oks.filter((m) => m[2] === false)
    expect(refused).to.have.length(3)
    for (const m of refused) expect(m[3]).to.match(/^rate-limited: /)
    expect(new Set(oks.map((m) => m[1])).size).to.equal(8)
  })

  it('closes 4403 "token expired" when the token expires', async () => {
    const { pool, ctx } = stubContext()
    pool.add(A)
    const expiresAt = Date.now() + 100
    const { ws } = openSession(ctx, identity([A], { tokenPayload: { expiresAt } }))
    const [code, reason] = (await once(ws, 'close')) as [number, Buffer]
    expect(code).to.equal(4403)
    expect(String(reason)).to.equal('token expired')
    expect(Date.now()).to.be.at.least(expiresAt)
  })

  it('drains: answers what the worker answers, refuses the rest, then closes 1001', async () => {
    const { pool, ctx, registry } = stubContext()
    let hold: (() => void) | null = null
    pool.add(A, (req, w) => {
      const { message } = JSON.parse(String(req.body)) as { message: unknown[] }
      if ((message[1] as { content?: string }).content === 'e9') return new Promise(() => {}) // never answers
      if (hold !== null) return echoRelay(req, w)
      return new Promise((resolve) => (hold = () => resolve(echoRelay(req, w) as never)))
    })
    const { ws } = openSession(ctx, identity([A]))
    ws.client(['EVENT', ev(1)])
    await new Promise((r) => setTimeout(r, 10))
    const draining = registry.drain(200)
    ws.client(['EVENT', ev(2)])
    ;(hold as unknown as () => void)()
    await ws.next(isVerb('OK', ev(1).id))
    await draining
    expect(ws.sent).to.deep.equal([
      ['OK', ev(2).id, false, 'error: gateway shutting down'],
      ['OK', ev(1).id, true, ''],
    ])
    expect(ws.closedWith?.[0]).to.equal(1001)
  })

  it('drains: a message the worker does not answer in time gets OK false before 1001', async () => {
    const { pool, ctx, registry } = stubContext()
    pool.add(A, () => new Promise(() => {}))
    const { ws } = openSession(ctx, identity([A]))
    ws.client(['EVENT', ev(9)])
    await new Promise((r) => setTimeout(r, 10))
    await registry.drain(50)
    expect(ws.sent).to.deep.equal([['OK', ev(9).id, false, 'error: gateway shutting down']])
    expect(ws.closedWith?.[0]).to.equal(1001)
  })

  it('polls a worker without push while subscriptions are open', async () => {
    const { pool, ctx } = stubContext()
    const a = pool.add(A)
    a.capabilities.clear()
    a.handler = (req, w) =>
      req.method === 'GET'
        ? {
            id: 0,
            statusCode: 200,
            headers: {},
            body: Buffer.from(JSON.stringify([['EVENT', 's', ev(7)]])),
          }
        : echoRelay(req, w)
    const { ws } = openSession(ctx, identity([A]))
    ws.client(['REQ', 's', {}])
    await ws.next(isVerb('EVENT', 's'))
    expect(a.requests.some((r) => r.method === 'GET')).to.equal(true)
  })
})

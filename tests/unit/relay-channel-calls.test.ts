import { expect } from 'chai'
import { RelayChannel } from '../../shared/protocol/relay-channel.js'
import { Router } from '../../shared/protocol/router.js'
import { Capability } from '../../shared/protocol/wire.js'
import { createFramedPair } from '../helpers/framed-pair.js'
import type { FramedEnd } from '../helpers/framed-pair.js'

/** What `promise` rejects with; undefined when it resolves. */
const rejection = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => undefined,
    (err: unknown) => err,
  )

// Calls on one channel: deadlines kept by one timer, corked batches, text bodies kept as text.
describe('relay-v2 channel calls', () => {
  let a: FramedEnd
  let b: FramedEnd
  let client: RelayChannel
  let server: RelayChannel
  let hold: Array<() => void>

  beforeEach(async () => {
    ;[a, b] = createFramedPair()
    hold = []
    const router = new Router()
      .post('/echo', (req) => ({ statusCode: 200, body: req.body }))
      // Never answers until the test lets it go.
      .get('/hang', () => new Promise((resolve) => hold.push(() => resolve({ statusCode: 204 }))))
    const text = [Capability.TEXT_BODY]
    client = new RelayChannel(a, { isServer: false, capabilities: text })
    server = new RelayChannel(b, { isServer: true, router, capabilities: text })
    await Promise.all([client.opened(), server.opened()])
  })

  afterEach(async () => {
    for (const release of hold) release()
    await client.close()
    await server.close()
  })

  it('times out a short call behind a long one on time, and leaves the long one pending', async () => {
    const long = client.request({ method: 'GET', path: '/hang' }, { timeoutMs: 5_000 })
    long.catch(() => {})
    const started = performance.now()
    const err = await rejection(client.request({ method: 'GET', path: '/hang' }, { timeoutMs: 60 }))
    const waited = performance.now() - started
    expect(err).to.have.property('code', 'REQUEST_TIMEOUT')
    expect(waited).to.be.at.least(59)
    expect(client.pendingCount).to.equal(1)
    hold[0]?.()
    expect((await long).statusCode).to.equal(204)
    expect(client.pendingCount).to.equal(0)
  })

  it('times out each of several calls with the same deadline', async () => {
    const calls = [1, 2, 3].map(() =>
      rejection(client.request({ method: 'GET', path: '/hang' }, { timeoutMs: 30 })),
    )
    for (const err of await Promise.all(calls))
      expect(err).to.have.property('code', 'REQUEST_TIMEOUT')
    expect(client.pendingCount).to.equal(0)
  })

  it('keeps a text body as text both ways once text-body is negotiated', async () => {
    const body = '{"message":["REQ","s",{}],"note":"é"}'
    const res = await client.request({ method: 'POST', path: '/echo', body })
    expect(res.body).to.equal(body)
  })

  it('sends a corked batch of requests as one write, answered like single ones', async () => {
    const before = a.written.length
    client.cork()
    const calls = ['1', '2', '3'].map((n) =>
      client.request({ method: 'POST', path: '/echo', body: n }),
    )
    client.uncork()
    expect(a.written.length - before).to.equal(1)
    expect((await Promise.all(calls)).map((r) => r.body)).to.deep.equal(['1', '2', '3'])
  })
})

import { expect } from 'chai'
import { once } from 'node:events'
import { RelayChannel } from '../../shared/protocol/relay-channel.js'
import { Router } from '../../shared/protocol/router.js'
import type { RouteRequest } from '../../shared/protocol/router.js'
import type { JsonObject, RelayResponse } from '../../shared/protocol/wire.js'
import { createFramedPair, FramedEnd, lengthPrefixed } from '../helpers/framed-pair.js'
import { frame } from '../helpers/vectors.js'

const RELAY = 'b'.repeat(64)
const CONNECTION_KEY = '0f'.repeat(16)
const TOKEN =
  'eyJleHBpcmVzQXQiOjE3NjQwMDM2MDAwMDAsImlzc3VlZEF0IjoxNzY0MDAwMDAwMDAwLCJyZWxheUtleSI6ImFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWEiLCJzY29wZSI6InJlbGF5LWFjY2VzcyJ9.6d7929dcd4f4cacbf7222154b563323927f8051e5d3be01b2cdc3eb4526679d6'
const POST_BODY = {
  message: ['REQ', 'sub1', { kinds: [1], limit: 2 }],
  connectionKey: CONNECTION_KEY,
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

describe('relay-v2 channel: legacy vectors', () => {
  describe('encoding', () => {
    let a: FramedEnd
    let b: FramedEnd
    let client: RelayChannel
    let server: RelayChannel

    beforeEach(async () => {
      ;[a, b] = createFramedPair()
      client = new RelayChannel(a, { isServer: false })
      const router = new Router().post('/post/relay/:identifier', () => ({
        statusCode: 200,
        headers: { 'content-type': 'application/json' },
        body: Buffer.from('["EOSE","sub1"]'),
      }))
      server = new RelayChannel(b, {
        isServer: true,
        router,
        now: () => Date.parse('2025-11-24T16:00:00.000Z'),
        healthServices: () => ({ relay: 'active', protocol: 'connected' }),
      })
      await Promise.all([client.opened(), server.opened()])
    })

    afterEach(async () => {
      await client.close()
      await server.close()
    })

    it('opens with the vector handshake frames, client first', () => {
      expect(a.written[0]).to.deep.equal(frame('clientOpenFrames'))
      expect(b.written[0]).to.deep.equal(frame('serverOpenFrames'))
    })

    it('writes the vector request frame', async () => {
      const before = a.written.length
      void client
        .request({
          method: 'POST',
          path: `/post/relay/${RELAY}`,
          headers: { 'content-type': 'application/json', 'x-auth-token': TOKEN },
          body: Buffer.from(JSON.stringify(POST_BODY)),
        })
        .catch(() => {})
      await tick()
      expect(a.written[before]).to.deep.equal(frame('request'))
    })

    it('writes the vector response frame for request id 7', async () => {
      // Seven unanswered-then-answered requests move the server's reply to id 7.
      const lone = new FramedEnd()
      const ch = new RelayChannel(lone, {
        isServer: true,
        router: new Router().get('/x', () => ({
          statusCode: 200,
          headers: { 'content-type': 'application/json' },
          body: Buffer.from('["EOSE","sub1"]'),
        })),
      })
      lone.inject(frame('clientOpenFrames'))
      await ch.opened()
      lone.inject(
        Buffer.concat([
          Buffer.from('0100', 'hex'),
          lengthPrefixed('{"id":7,"method":"GET","path":"/x","headers":{},"body":null}'),
        ]),
      )
      await tick()
      expect(lone.written.at(-1)).to.deep.equal(frame('response'))
      await ch.close()
    })

    it('writes the vector wsframe frame', () => {
      const before = a.written.length
      client.sendWsFrame({ connectionKey: CONNECTION_KEY, data: '["EVENT","sub1",{}]' })
      expect(a.written[before]).to.deep.equal(frame('wsframe'))
    })

    it('writes the vector health check (id 1) and health response (id 3)', async () => {
      const lone = new FramedEnd()
      const ch = new RelayChannel(lone, {
        isServer: false,
        now: () => Date.parse('2026-11-25T21:35:58.474Z'),
      })
      lone.inject(frame('serverOpenFrames'))
      await ch.opened()
      void ch.request({ method: 'GET', path: '/health' }, { timeoutMs: 50 }).catch(() => {})
      void ch.healthCheck({ timeoutMs: 50 }).catch(() => {})
      await tick()
      expect(lone.written.at(-1)).to.deep.equal(frame('healthcheck'))
      await ch.close()

      const lone2 = new FramedEnd()
      const responder = new RelayChannel(lone2, {
        isServer: true,
        now: () => Date.parse('2025-11-24T16:00:00.000Z'),
        healthServices: () => ({ relay: 'active', protocol: 'connected' }),
      })
      lone2.inject(frame('clientOpenFrames'))
      await responder.opened()
      lone2.inject(
        Buffer.concat([Buffer.from('0103', 'hex'), lengthPrefixed('{"id":3,"timestamp":"x"}')]),
      )
      await tick()
      expect(lone2.written.at(-1)).to.deep.equal(frame('healthresponse'))
      await responder.close()
    })
  })

  describe('decoding', () => {
    let end: FramedEnd
    let ch: RelayChannel
    const seen: RouteRequest[] = []

    beforeEach(async () => {
      seen.length = 0
      end = new FramedEnd()
      ch = new RelayChannel(end, {
        isServer: true,
        router: new Router().post('/post/relay/:identifier', (req) => {
          seen.push(req)
          return { statusCode: 200, body: '' }
        }),
      })
      end.inject(frame('clientOpenFrames'))
      await ch.opened()
    })

    afterEach(() => ch.close())

    it('decodes the vector handshake', () => {
      expect(ch.remoteHandshake).to.deep.include({ version: '2.0', isServer: false })
      expect(ch.remoteHandshake?.capabilities).to.deep.equal(['http', 'websocket', 'health'])
      expect(ch.remoteIsGateway).to.equal(false)
    })

    it('decodes the vector request into a typed request with a Buffer body', async () => {
      end.inject(frame('request'))
      await tick()
      expect(seen).to.have.length(1)
      const req = seen[0] as RouteRequest
      expect(req.method).to.equal('POST')
      expect(req.params.identifier).to.equal(RELAY)
      expect(req.headers['x-auth-token']).to.equal(TOKEN)
      expect(Buffer.isBuffer(req.body)).to.equal(true)
      expect(JSON.parse(String(req.body))).to.deep.equal(POST_BODY)
    })

    it('decodes the vector response and resolves the matching pending request', async () => {
      const calls = Array.from({ length: 8 }, () =>
        ch.request({ method: 'GET', path: '/health' }, { timeoutMs: 2000 }),
      )
      end.inject(frame('response'))
      const res = await (calls[7] as Promise<RelayResponse>)
      expect(res.id).to.equal(7)
      expect(res.statusCode).to.equal(200)
      expect(res.headers).to.deep.equal({ 'content-type': 'application/json' })
      expect(JSON.parse(String(res.body))).to.deep.equal(['EOSE', 'sub1'])
      await ch.close()
      const rest = await Promise.allSettled(calls.slice(0, 7))
      expect(rest.every((r) => r.status === 'rejected')).to.equal(true)
    })

    it('decodes the vector wsframe into an event', async () => {
      const got = once(ch, 'wsframe') as Promise<[JsonObject]>
      end.inject(frame('wsframe'))
      const [wsframe] = await got
      expect(wsframe).to.deep.equal({ connectionKey: CONNECTION_KEY, data: '["EVENT","sub1",{}]' })
    })

    it('answers the vector health check with a health response of the same id', async () => {
      const before = end.written.length
      end.inject(frame('healthcheck'))
      await tick()
      const reply = end.written[before] as Buffer
      const json = JSON.parse(reply.subarray(3).toString()) as JsonObject
      expect(reply.subarray(0, 2).toString('hex')).to.equal('0104')
      expect(json).to.include({ id: 1, status: 'healthy' })
    })

    it('decodes the vector health response for the pending check with id 3', async () => {
      void ch.request({ method: 'GET', path: '/a' }, { timeoutMs: 2000 }).catch(() => {})
      void ch.request({ method: 'GET', path: '/b' }, { timeoutMs: 2000 }).catch(() => {})
      void ch.request({ method: 'GET', path: '/c' }, { timeoutMs: 2000 }).catch(() => {})
      const health = ch.healthCheck({ timeoutMs: 2000 })
      end.inject(frame('healthresponse'))
      const res = await health
      expect(res).to.deep.include({ id: 3, status: 'healthy' })
      expect(res.services).to.deep.equal({ relay: 'active', protocol: 'connected' })
      expect(res.rttMs).to.be.a('number')
    })

    it('reports a malformed message without closing the channel', async () => {
      const err = once(ch, 'protocol-error')
      end.inject(Buffer.concat([Buffer.from('0100', 'hex'), lengthPrefixed('{not json')]))
      await err
      end.inject(frame('request'))
      await tick()
      expect(seen).to.have.length(1)
      expect(ch.closed).to.equal(false)
    })
  })
})

import { expect } from 'chai'
import { toRelayResponse } from '../../shared/protocol/route-response.js'
import type { RelayRequest } from '../../shared/protocol/wire.js'

const req = (method: string): RelayRequest => ({
  id: 7,
  method,
  path: '/x',
  headers: {},
  body: null,
})

describe('toRelayResponse', () => {
  it('keeps text and bytes as they are, without a content-type of its own', () => {
    const text = toRelayResponse(req('GET'), { statusCode: 200, body: 'a\nb' })
    expect(text).to.deep.equal({ id: 7, statusCode: 200, headers: {}, body: 'a\nb' })
    const bytes = toRelayResponse(req('GET'), { statusCode: 200, body: Buffer.from([1, 2]) })
    expect(bytes.body).to.deep.equal(Buffer.from([1, 2]))
  })

  it('sends any other value as JSON, with a content-type unless the route set one', () => {
    const json = toRelayResponse(req('GET'), { statusCode: 404, body: { error: 'nope' } })
    expect(json.body).to.equal('{"error":"nope"}')
    expect(json.headers['content-type']).to.equal('application/json')
    const own = toRelayResponse(req('GET'), {
      statusCode: 200,
      headers: { 'content-type': 'text/plain' },
      body: [1],
    })
    expect(own.headers['content-type']).to.equal('text/plain')
  })

  it('answers HEAD without a body but with the length the body would have had', () => {
    const head = toRelayResponse(req('HEAD'), { statusCode: 200, body: 'héllo' })
    expect(head.body).to.equal(null)
    expect(head.headers['content-length']).to.equal('6')
  })
})

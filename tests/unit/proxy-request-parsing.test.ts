import { expect } from 'chai'
import type { IncomingMessage } from 'node:http'
import { clientAddress } from '../../proxy/client-address.js'
import { relayTarget } from '../../proxy/relay-target.js'

function req(
  url: string,
  headers: Record<string, string> = {},
  remote = '127.0.0.1',
): IncomingMessage {
  return { url, headers, socket: { remoteAddress: remote } } as unknown as IncomingMessage
}

describe('relayTarget', () => {
  it('reads a relay key path and the query token', () => {
    expect(relayTarget(req(`/${'a'.repeat(64)}?token=t1`))).to.deep.equal({
      identifiers: ['a'.repeat(64)],
      token: 't1',
    })
  })

  it('maps /<a>/<b> to the public identifier a:b, then the alias a/b', () => {
    expect(relayTarget(req('/npub1xyz/my-relay'))?.identifiers).to.deep.equal([
      'npub1xyz:my-relay',
      'npub1xyz/my-relay',
    ])
  })

  it('accepts an encoded colon and longer aliases up to four segments', () => {
    expect(relayTarget(req('/npub1xyz%3Amy-relay'))?.identifiers).to.deep.equal([
      'npub1xyz:my-relay',
    ])
    expect(relayTarget(req('/a/b/c/d'))?.identifiers).to.deep.equal(['a/b/c/d'])
    expect(relayTarget(req('/a/b/c/d/e'))).to.equal(null)
  })

  it('prefers the Bearer token over the query', () => {
    expect(relayTarget(req('/r?token=q', { authorization: 'Bearer h' }))?.token).to.equal('h')
    expect(relayTarget(req('/r', { authorization: 'Basic x' }))?.token).to.equal(null)
  })

  it('refuses paths that cannot name a relay', () => {
    for (const url of ['/', '/%E0%A4%A', '/a%2Fb', '/<script>', `/${'x'.repeat(600)}`]) {
      expect(relayTarget(req(url)), url).to.equal(null)
    }
  })
})

describe('clientAddress', () => {
  const trusted = new Set(['127.0.0.1'])

  it('uses the socket peer when it is not a trusted proxy', () => {
    expect(
      clientAddress(req('/', { 'x-forwarded-for': '6.6.6.6' }, '203.0.113.9'), trusted),
    ).to.equal('203.0.113.9')
  })

  it('takes the nearest untrusted hop behind a trusted proxy', () => {
    const r = req(
      '/',
      { 'x-forwarded-for': '6.6.6.6, 198.51.100.7, 127.0.0.1' },
      '::ffff:127.0.0.1',
    )
    expect(clientAddress(r, trusted)).to.equal('198.51.100.7')
  })

  it('falls back to the peer when the header is missing', () => {
    expect(clientAddress(req('/', {}, '127.0.0.1'), trusted)).to.equal('127.0.0.1')
  })
})

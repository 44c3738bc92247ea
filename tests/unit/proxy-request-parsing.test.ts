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

describe('relayTarget: query tokens and long names (issue 9.7, 9.8)', () => {
  it('limits the path alone: a 128-character relay name works with a long ?token=', () => {
    const npub = `npub1${'q'.repeat(58)}`
    const name = 'n'.repeat(128)
    const token = 't'.repeat(1_000)
    const target = relayTarget(req(`/${npub}/${name}?token=${token}`))
    expect(target?.identifiers[0]).to.equal(`${npub}:${name}`)
    expect(target?.token).to.equal(token)
    expect(relayTarget(req(`/${'x'.repeat(513)}?token=t`))).to.equal(null)
    expect(relayTarget(req(`/${'x'.repeat(512 - 1)}?token=t`))?.token).to.equal('t')
  })

  it('matches the Bearer scheme case-insensitively', () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      expect(relayTarget(req('/r', { authorization: `${scheme} h` }))?.token, scheme).to.equal('h')
    }
    expect(relayTarget(req('/r', { authorization: 'Bearerh' }))?.token).to.equal(null)
    expect(relayTarget(req('/r', { authorization: 'Bearer ' }))?.token).to.equal(null)
  })
})

describe('clientAddress: trusted proxies (issue 9.8)', () => {
  it('believes no X-Forwarded-For when no proxy is trusted (the default)', () => {
    const r = req('/', { 'x-forwarded-for': '6.6.6.6' }, '127.0.0.1')
    expect(clientAddress(r, new Set())).to.equal('127.0.0.1')
  })

  it('accepts CIDR ranges and IPv6 peers', () => {
    const trusted = new Set(['172.30.80.0/24', '::1'])
    const behind = (peer: string) =>
      clientAddress(req('/', { 'x-forwarded-for': '198.51.100.7' }, peer), trusted)
    expect(behind('172.30.80.10')).to.equal('198.51.100.7')
    expect(behind('::ffff:172.30.80.10')).to.equal('198.51.100.7')
    expect(behind('::1')).to.equal('198.51.100.7')
    expect(behind('172.30.81.10')).to.equal('172.30.81.10')
  })

  it('ignores a forged hop list past the nearest untrusted address', () => {
    const trusted = new Set(['10.0.0.1'])
    const r = req('/', { 'x-forwarded-for': '1.1.1.1, 203.0.113.5, 10.0.0.1' }, '10.0.0.1')
    expect(clientAddress(r, trusted)).to.equal('203.0.113.5')
  })
})

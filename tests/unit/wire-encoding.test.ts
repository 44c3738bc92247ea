import { expect } from 'chai'
import c from 'compact-encoding'
import type { Encoding } from 'protomux'
import { randomBytes } from 'node:crypto'
import { readByteArray } from '../../shared/protocol/byte-array-body.js'
import type { Envelope } from '../../shared/protocol/envelope.js'
import {
  bodyBytes,
  requestEncoding,
  requestEnvelope,
  responseEncoding,
} from '../../shared/protocol/wire.js'
import type { RelayRequest, RelayResponse } from '../../shared/protocol/wire.js'

// The reference: what legacy code writes, compact-encoding's json of the plain object.
const json = c.json as Encoding<unknown>

function encode<T>(enc: Encoding<T>, value: T): Buffer {
  const state = { start: 0, end: 0, buffer: null as Uint8Array | null }
  enc.preencode(state, value)
  state.buffer = Buffer.alloc(state.end)
  enc.encode(state, value)
  expect(state.start, 'encode wrote exactly what preencode measured').to.equal(state.end)
  return state.buffer as Buffer
}

function decode<T>(enc: Encoding<T>, bytes: Buffer): Exclude<T, Envelope> {
  return enc.decode({ start: 0, end: bytes.length, buffer: bytes }) as Exclude<T, Envelope>
}

function legacyRequest(r: RelayRequest): unknown {
  return {
    id: r.id,
    method: r.method,
    path: r.path,
    headers: r.headers,
    body: r.body === null ? null : [...(bodyBytes(r.body) as Buffer)],
  }
}

const sizes = [0, 1, 9, 10, 99, 100, 255, 256, 4096]

describe('relay-v2 request and response encodings', () => {
  it('write the same bytes as compact-encoding json of the legacy object', () => {
    const headers = { 'content-type': 'application/json', 'x-auth-token': 'tök€n' }
    for (const size of sizes) {
      for (const body of [randomBytes(size), null]) {
        const req: RelayRequest = {
          id: size,
          method: 'POST',
          path: `/post/relay/é${size}`,
          headers,
          body,
        }
        expect(encode(requestEncoding, req)).to.deep.equal(encode(json, legacyRequest(req)))
        const res: RelayResponse = { id: size + 1, statusCode: 200 + size, headers, body }
        const legacy = {
          id: res.id,
          statusCode: res.statusCode,
          headers,
          body: body === null ? null : [...body],
        }
        expect(encode(responseEncoding, res)).to.deep.equal(encode(json, legacy))
      }
    }
  })

  it('re-renders when the same headers object is used with another path', () => {
    const headers = { a: 'b' }
    const one = encode(requestEncoding, { id: 1, method: 'GET', path: '/one', headers, body: null })
    const two = encode(requestEncoding, { id: 2, method: 'GET', path: '/two', headers, body: null })
    expect(one.toString()).to.include('"/one"')
    expect(two.toString()).to.include('"/two"')
  })

  it('measure and write each value on its own, whatever the order of the calls', () => {
    const headers = { h: 'v' }
    const one: RelayRequest = { id: 1, method: 'GET', path: '/1', headers, body: Buffer.from('a') }
    const two: RelayRequest = { id: 2, method: 'GET', path: '/22', headers, body: null }
    const s1 = { start: 0, end: 0, buffer: null as Uint8Array | null }
    const s2 = { start: 0, end: 0, buffer: null as Uint8Array | null }
    requestEncoding.preencode(s1, one)
    requestEncoding.preencode(s2, two)
    s1.buffer = Buffer.alloc(s1.end)
    s2.buffer = Buffer.alloc(s2.end)
    requestEncoding.encode(s2, two)
    requestEncoding.encode(s1, one)
    expect(s1.buffer).to.deep.equal(encode(json, legacyRequest(one)))
    expect(s2.buffer).to.deep.equal(encode(json, legacyRequest(two)))
    // An envelope is rendered once and written as often as asked, with the same bytes.
    const envelope = requestEnvelope(one, false)
    expect(encode(requestEncoding, envelope)).to.deep.equal(encode(requestEncoding, envelope))
    expect(encode(requestEncoding, envelope)).to.deep.equal(encode(json, legacyRequest(one)))
  })

  it('decode what they encode', () => {
    for (const size of sizes) {
      const body = randomBytes(size)
      const req: RelayRequest = { id: 3, method: 'POST', path: '/p', headers: { h: 'v' }, body }
      expect(decode(requestEncoding, encode(requestEncoding, req))).to.deep.equal(req)
    }
  })

  it('decode every body form workers emit, wherever the body key sits', () => {
    const forms: Array<[unknown, Buffer | null]> = [
      [[104, 105], Buffer.from('hi')],
      [{ type: 'Buffer', data: [104, 105] }, Buffer.from('hi')],
      ['hi', Buffer.from('hi')],
      [null, null],
      [[], Buffer.alloc(0)],
    ]
    for (const [body, expected] of forms) {
      const bodyFirst = { body, id: 1, statusCode: 200, headers: {} }
      const bodyLast = { id: 1, statusCode: 200, headers: {}, body }
      for (const shape of [bodyFirst, bodyLast]) {
        const decoded = decode(responseEncoding, encode(json, shape))?.body ?? null
        // A text body stays text through the API (no Buffer between); its bytes are the same.
        if (typeof body === 'string') expect(decoded).to.equal(body)
        expect(bodyBytes(decoded)).to.deep.equal(expected)
      }
    }
    const spaced = Buffer.from('{"id":1,"statusCode":200,"headers":{},"body":[ 104 , 105 ]}')
    const framed = Buffer.concat([Buffer.from([spaced.length]), spaced])
    expect(decode(responseEncoding, framed)?.body).to.deep.equal(Buffer.from('hi'))
  })

  it('decode malformed messages to null without throwing', () => {
    const bad = [
      '{"id":1,"statusCode":200,"headers":{},"body":[1,,2]}',
      '{"id":"x","statusCode":200}',
      'nope',
      '{"id":1',
    ]
    for (const text of bad) {
      const bytes = Buffer.concat([Buffer.from([Buffer.byteLength(text)]), Buffer.from(text)])
      expect(decode(responseEncoding, bytes), text).to.equal(null)
    }
    expect(decode(responseEncoding, Buffer.from([200, 1, 2]))).to.equal(null)
  })

  it('send UTF-8 bodies as JSON strings once text-body is negotiated, bytes as arrays', () => {
    const text = '{"message":["REQ","s",{"kinds":[1]}],"note":"é \\" \u2028"}'
    const asText = encode(requestEncoding, {
      id: 1,
      method: 'POST',
      path: '/p',
      headers: {},
      body: Buffer.from(text),
      textBody: true,
    })
    expect(asText.toString()).to.include(`"body":${JSON.stringify(text)}`)
    expect(decode(requestEncoding, asText)?.body?.toString()).to.equal(text)
    const fromString = encode(requestEncoding, {
      id: 1,
      method: 'POST',
      path: '/p',
      headers: {},
      body: text,
      textBody: true,
    })
    expect(fromString).to.deep.equal(asText)
    const binary = Buffer.from([0xff, 0xfe, 0x00, 0x80])
    const asBytes = encode(requestEncoding, {
      id: 2,
      method: 'POST',
      path: '/p',
      headers: {},
      body: binary,
      textBody: true,
    })
    expect(asBytes.toString()).to.include('"body":[255,254,0,128]')
    expect(decode(requestEncoding, asBytes)?.body).to.deep.equal(binary)
    // Without the flag a string body still goes out in the legacy form.
    const legacy = encode(requestEncoding, {
      id: 3,
      method: 'POST',
      path: '/p',
      headers: {},
      body: 'hi',
    })
    expect(legacy.toString()).to.include('"body":[104,105]')
  })

  it('read byte arrays strictly and wrap values as Buffer.from does', () => {
    const read = (s: string) => readByteArray(Buffer.from(s), 0, s.length)
    expect(read('[0,255,256,1000]')).to.deep.equal(Buffer.from([0, 255, 256, 1000]))
    for (const s of ['[1,]', '[,1]', '[-1]', '[1.5]', '[1 ]', '1,2', '['])
      expect(read(s), s).to.equal(null)
  })
})

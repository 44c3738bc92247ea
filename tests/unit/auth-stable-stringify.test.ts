import { expect } from 'chai'
import { thrown } from '../helpers/thrown.js'
import { vectors } from '../helpers/vectors.js'
import { stableStringify } from '../../shared/auth/stable-stringify.js'

// The legacy worker's algorithm: a JSON.stringify replacer that rebuilds every non-array
// object with sorted keys. Used as the reference for JSON-shaped data.
function legacyStableStringify(value: unknown): string | undefined {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v
    const source = v as Record<string, unknown>
    const rebuilt: Record<string, unknown> = {}
    for (const key of Object.keys(source).sort()) rebuilt[key] = source[key]
    return rebuilt
  })
}

// Small deterministic PRNG so a failing fuzz case can be reproduced.
function prng(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const FUZZ_KEYS = [
  'a',
  'b',
  'B',
  'z',
  '',
  'é',
  '\u{1f600}',
  'relayKey',
  '0',
  '1',
  '2',
  '10',
  '01',
  '-1',
  '1.5',
  '4294967294',
  '4294967295',
]

function randomJson(rand: () => number, depth: number): unknown {
  const pick = Math.floor(rand() * (depth > 3 ? 6 : 9))
  switch (pick) {
    case 0:
      return null
    case 1:
      return rand() < 0.5
    case 2:
      return Math.floor(rand() * 2e6) - 1e6
    case 3:
      return rand() * 1e-3
    case 4:
      return String.fromCharCode(...Array.from({ length: 4 }, () => Math.floor(rand() * 0x3000)))
    case 5:
      return undefined
    case 6:
      return Array.from({ length: Math.floor(rand() * 4) }, () => randomJson(rand, depth + 1))
    default: {
      const object: Record<string, unknown> = {}
      const size = Math.floor(rand() * 6)
      for (let i = 0; i < size; i++) {
        const key = FUZZ_KEYS[Math.floor(rand() * FUZZ_KEYS.length)] as string
        object[key] = randomJson(rand, depth + 1)
      }
      return object
    }
  }
}

describe('auth: stableStringify', () => {
  it('reproduces the signed text of every vector token', () => {
    for (const { payload, token } of vectors.tokens) {
      const encoded = token.slice(0, token.indexOf('.'))
      const sent = Buffer.from(encoded, 'base64url').toString('utf8')
      expect(stableStringify(payload)).to.equal(sent)
    }
  })

  it('sorts keys recursively and keeps array order', () => {
    const value = { b: [{ z: 1, a: 2 }, 3, 'x'], a: { d: null, c: true } }
    expect(stableStringify(value)).to.equal('{"a":{"c":true,"d":null},"b":[{"a":2,"z":1},3,"x"]}')
  })

  it('does not depend on insertion order', () => {
    const one = { relayKey: 'r', nonce: 'n', metadata: { y: 1, x: 2 } }
    const two = { metadata: { x: 2, y: 1 }, nonce: 'n', relayKey: 'r' }
    expect(stableStringify(one)).to.equal(stableStringify(two))
  })

  it('orders array-index keys numerically first, as the legacy worker does', () => {
    const value = { b: 1, '10': 2, a: 3, '2': 4, '01': 5 }
    expect(stableStringify(value)).to.equal('{"2":4,"10":2,"01":5,"a":3,"b":1}')
  })

  it('omits undefined, function and symbol members and nulls them inside arrays', () => {
    const value = { a: undefined, b: () => 1, c: Symbol('c'), d: 1, e: [undefined, () => 1] }
    expect(stableStringify(value)).to.equal('{"d":1,"e":[null,null]}')
  })

  it('honours toJSON, passing the member key', () => {
    const seen: string[] = []
    const probe = {
      toJSON(key: string) {
        seen.push(key)
        return { y: 1, x: 2 }
      },
    }
    const date = new Date(Date.UTC(2025, 10, 25))
    expect(stableStringify({ when: date, probe, list: [probe] })).to.equal(
      '{"list":[{"x":2,"y":1}],"probe":{"x":2,"y":1},"when":"2025-11-25T00:00:00.000Z"}',
    )
    expect(seen).to.deep.equal(['0', 'probe'])
  })

  it('matches JSON.stringify for primitives and escaping', () => {
    const samples: unknown[] = [
      0,
      -0,
      1.5e300,
      NaN,
      -Infinity,
      true,
      false,
      null,
      '',
      'quote " backslash \\ newline \n',
      '\u0000\u001f\u2028',
      'lone \ud800 surrogate',
      'emoji \u{1f600}',
      new Number(5),
      new String('boxed'),
      new Boolean(false),
    ]
    for (const sample of samples) {
      expect(stableStringify(sample)).to.equal(JSON.stringify(sample))
    }
  })

  it('ignores symbol and non-enumerable keys like JSON.stringify', () => {
    const value: Record<string | symbol, unknown> = { b: 1, [Symbol('s')]: 2 }
    Object.defineProperty(value, 'a', { value: 3, enumerable: false })
    expect(stableStringify(value)).to.equal('{"b":1}')
    expect(stableStringify(new Map([['a', 1]]))).to.equal('{}')
  })

  it('serialises an own "__proto__" key instead of dropping it', () => {
    const value = JSON.parse('{"b":1,"__proto__":{"x":1}}') as unknown
    expect(stableStringify(value)).to.equal('{"__proto__":{"x":1},"b":1}')
  })

  it('allows shared references but throws TypeError on cycles', () => {
    const shared = { v: 1 }
    expect(stableStringify({ a: shared, b: [shared] })).to.equal('{"a":{"v":1},"b":[{"v":1}]}')
    const cyclic: Record<string, unknown> = { a: 1 }
    cyclic.self = { again: cyclic }
    expect(thrown(() => stableStringify(cyclic))).to.be.instanceOf(TypeError)
  })

  it('throws TypeError for BigInt and for values with no JSON text', () => {
    for (const value of [{ n: 1n }, 1n, undefined, () => 1, Symbol('s')]) {
      expect(thrown(() => stableStringify(value))).to.be.instanceOf(TypeError)
    }
  })

  it('agrees with the legacy algorithm on random JSON-shaped values', () => {
    const rand = prng(0x5eed)
    for (let i = 0; i < 2000; i++) {
      const value = { root: randomJson(rand, 0) }
      expect(stableStringify(value), `case ${i}`).to.equal(legacyStableStringify(value))
    }
  })
})

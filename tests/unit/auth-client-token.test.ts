import { expect } from 'chai'
import { vectors } from '../helpers/vectors.js'
import { randomBytes } from 'node:crypto'
import {
  DEFAULT_CLIENT_TOKEN_TTL_MS,
  MAX_CLIENT_TOKEN_LENGTH,
  issueClientToken,
  tokenPubkey,
  verifyClientToken,
  workerToken,
} from '../../shared/auth/client-token.js'
import type { TokenVerification } from '../../shared/auth/client-token.js'
import { hmacHex } from '../../shared/auth/hmac.js'
import { signLegacyDelete, signRegistration } from '../../shared/auth/registration-signature.js'
import { stableStringify } from '../../shared/auth/stable-stringify.js'
import { ErrorCode, GatewayError } from '../../shared/errors.js'
import { thrown } from '../helpers/thrown.js'

interface TokenVector {
  payload: { relayKey: string; expiresAt: number; scope: string; issuedAt: number }
  token: string
}

const SECRET = vectors.secret
const VECTOR = vectors.tokens[0] as TokenVector
const RELAY = VECTOR.payload.relayKey
const ISSUED = VECTOR.payload.issuedAt
const EXPIRES = VECTOR.payload.expiresAt
const BEFORE_EXPIRY = EXPIRES - 1

// Builds a token the way a worker would, around any signed text, so tests can sign
// payloads issueClientToken itself would refuse to produce.
function rawToken(text: string, secret = SECRET): string {
  return `${Buffer.from(text, 'utf8').toString('base64url')}.${hmacHex(secret, text)}`
}

function reasonOf(result: TokenVerification): string {
  return result.ok ? 'ok' : result.reason
}

function flipLastHex(hex: string): string {
  return hex.slice(0, -1) + (hex.endsWith('0') ? '1' : '0')
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return err instanceof GatewayError ? err.code : `not a GatewayError: ${String(err)}`
  }
  return undefined
}

function randomString(length: number, alphabet: string): string {
  const bytes = randomBytes(length)
  let out = ''
  for (const byte of bytes) out += alphabet[byte % alphabet.length]
  return out
}

describe('auth: client tokens', () => {
  describe('legacy vectors', () => {
    for (const [i, vector] of (vectors.tokens as TokenVector[]).entries()) {
      it(`reproduces vector token ${i} byte for byte`, () => {
        const { relayKey, issuedAt, expiresAt } = vector.payload
        expect(issueClientToken(SECRET, { relayKey, issuedAt, expiresAt })).to.equal(vector.token)
      })

      it(`verifies vector token ${i} before it expires`, () => {
        const result = verifyClientToken(SECRET, vector.token, {
          relayKey: vector.payload.relayKey,
          now: vector.payload.issuedAt,
        })
        expect(result.ok).to.equal(true)
        expect(result.payload).to.deep.equal(vector.payload)
      })
    }
  })

  describe('issueClientToken', () => {
    it('defaults issuedAt to now and the lifetime to DEFAULT_CLIENT_TOKEN_TTL_MS', () => {
      const token = issueClientToken(SECRET, { relayKey: RELAY, now: ISSUED })
      const result = verifyClientToken(SECRET, token, { now: ISSUED })
      expect(result.payload).to.deep.equal({
        relayKey: RELAY,
        scope: 'relay-access',
        issuedAt: ISSUED,
        expiresAt: ISSUED + DEFAULT_CLIENT_TOKEN_TTL_MS,
      })
    })

    it('uses ttlMs from issuedAt, and expiresAt over ttlMs', () => {
      const ttl = issueClientToken(SECRET, { relayKey: RELAY, issuedAt: ISSUED, ttlMs: 5000 })
      expect(verifyClientToken(SECRET, ttl, { now: ISSUED }).payload?.expiresAt).to.equal(
        ISSUED + 5000,
      )
      const both = issueClientToken(SECRET, {
        relayKey: RELAY,
        issuedAt: ISSUED,
        ttlMs: 5000,
        expiresAt: ISSUED + 7000,
      })
      expect(verifyClientToken(SECRET, both, { now: ISSUED }).payload?.expiresAt).to.equal(
        ISSUED + 7000,
      )
    })

    it('signs extra fields and returns them from verification', () => {
      const token = issueClientToken(SECRET, {
        relayKey: RELAY,
        now: ISSUED,
        extra: { seq: 7, pubkey: 'ab'.repeat(32) },
      })
      const result = verifyClientToken(SECRET, token, { relayKey: RELAY, now: ISSUED })
      expect(result.ok).to.equal(true)
      expect(result.payload?.seq).to.equal(7)
      expect(result.payload?.pubkey).to.equal('ab'.repeat(32))
    })

    it('refuses extra fields that would replace standard ones', () => {
      for (const field of ['relayKey', 'expiresAt', 'issuedAt', 'scope']) {
        const issue = () =>
          issueClientToken(SECRET, { relayKey: RELAY, now: ISSUED, extra: { [field]: 1 } })
        expect(codeOf(issue), field).to.equal(ErrorCode.TOKEN_INVALID)
      }
    })

    it('refuses invalid fields and tokens too long to verify', () => {
      const bad = [
        { relayKey: '' },
        { relayKey: RELAY, issuedAt: 1.5 },
        { relayKey: RELAY, now: -1 },
        { relayKey: RELAY, ttlMs: 0 },
        { relayKey: RELAY, ttlMs: Number.NaN },
        { relayKey: RELAY, expiresAt: ISSUED, issuedAt: ISSUED },
        { relayKey: RELAY, extra: { pad: 'x'.repeat(MAX_CLIENT_TOKEN_LENGTH) } },
      ]
      for (const [i, options] of bad.entries()) {
        expect(
          codeOf(() => issueClientToken(SECRET, options)),
          `case ${i}`,
        ).to.equal(ErrorCode.TOKEN_INVALID)
      }
    })

    it('refuses a short secret', () => {
      const issue = () => issueClientToken('x'.repeat(15), { relayKey: RELAY })
      expect(codeOf(issue)).to.equal(ErrorCode.SECRET_TOO_SHORT)
      expect(codeOf(() => issueClientToken('x'.repeat(16), { relayKey: RELAY }))).to.equal(
        undefined,
      )
    })
  })

  describe('verifyClientToken', () => {
    const token = VECTOR.token
    const [encoded = '', signature = ''] = token.split('.')

    it('reports expired at and after expiresAt, with the payload', () => {
      expect(verifyClientToken(SECRET, token, { now: BEFORE_EXPIRY }).ok).to.equal(true)
      for (const now of [EXPIRES, EXPIRES + 1]) {
        const result = verifyClientToken(SECRET, token, { relayKey: RELAY, now })
        expect(reasonOf(result)).to.equal('expired')
        expect(result.payload?.relayKey).to.equal(RELAY)
      }
    })

    it('defaults now to the clock', () => {
      const stale = issueClientToken(SECRET, { relayKey: RELAY, issuedAt: 1000, expiresAt: 2000 })
      expect(reasonOf(verifyClientToken(SECRET, stale, { relayKey: RELAY }))).to.equal('expired')
      const fresh = issueClientToken(SECRET, { relayKey: RELAY })
      expect(reasonOf(verifyClientToken(SECRET, fresh, { relayKey: RELAY }))).to.equal('ok')
    })

    it('reports wrong-relay, with the payload', () => {
      const result = verifyClientToken(SECRET, token, { relayKey: 'b'.repeat(64), now: ISSUED })
      expect(reasonOf(result)).to.equal('wrong-relay')
      expect(result.payload?.relayKey).to.equal(RELAY)
    })

    it('accepts any relay when the token or the caller names none', () => {
      const anyRelay = rawToken(stableStringify({ scope: 'relay-access', expiresAt: EXPIRES }))
      const options = { relayKey: 'b'.repeat(64), now: ISSUED }
      expect(reasonOf(verifyClientToken(SECRET, anyRelay, options))).to.equal('ok')
      expect(reasonOf(verifyClientToken(SECRET, token, { now: ISSUED }))).to.equal('ok')
    })

    it('accepts a token without expiresAt at any time, as the protocol says', () => {
      const forever = rawToken(stableStringify({ relayKey: RELAY, scope: 'relay-access' }))
      const options = { relayKey: RELAY, now: Number.MAX_SAFE_INTEGER }
      expect(reasonOf(verifyClientToken(SECRET, forever, options))).to.equal('ok')
    })

    it('reports bad-signature for a tampered payload, signature or secret', () => {
      const otherPayload = { ...VECTOR.payload, relayKey: 'b'.repeat(64) }
      const forgedPayload = Buffer.from(stableStringify(otherPayload)).toString('base64url')
      const longer = { ...VECTOR.payload, expiresAt: EXPIRES + 86_400_000 }
      const extended = Buffer.from(stableStringify(longer)).toString('base64url')
      const cases = [
        `${forgedPayload}.${signature}`,
        `${extended}.${signature}`,
        `${encoded}.${flipLastHex(signature)}`,
        `${encoded}.${'0'.repeat(64)}`,
      ]
      for (const [i, forged] of cases.entries()) {
        const result = verifyClientToken(SECRET, forged, { now: ISSUED })
        expect(reasonOf(result), `case ${i}`).to.equal('bad-signature')
        expect(result.payload, `case ${i}`).to.equal(undefined)
      }
      const wrongSecret = verifyClientToken(`${SECRET}x`, token, { now: ISSUED })
      expect(reasonOf(wrongSecret)).to.equal('bad-signature')
    })

    it('fails closed with a secret too short to be trusted', () => {
      const weak = 'short'
      const minted = rawToken(stableStringify(VECTOR.payload), weak)
      expect(reasonOf(verifyClientToken(weak, minted, { now: ISSUED }))).to.equal('bad-signature')
    })

    it('checks the HMAC over the payload bytes as sent, not a re-serialisation', () => {
      // Same JSON value, different bytes: valid only under its own signature.
      const spaced = JSON.stringify(VECTOR.payload, null, 1)
      const spacedEncoded = Buffer.from(spaced).toString('base64url')
      expect(reasonOf(verifyClientToken(SECRET, `${spacedEncoded}.${signature}`))).to.equal(
        'bad-signature',
      )
      const resigned = verifyClientToken(SECRET, rawToken(spaced), { now: ISSUED })
      expect(reasonOf(resigned)).to.equal('ok')
      expect(resigned.payload).to.deep.equal(VECTOR.payload)
    })

    it('reports malformed for broken structure', () => {
      const cases: unknown[] = [
        undefined,
        null,
        42,
        {},
        [token],
        Buffer.from(token),
        '',
        '.',
        encoded,
        `${encoded}.`,
        `.${signature}`,
        `${encoded}.${signature}.`,
        `${encoded}.${signature}.${signature}`,
        `${encoded}..${signature}`,
        `${encoded}.${signature.toUpperCase()}`,
        `${encoded}.${signature.slice(1)}`,
        `${encoded}.${signature}0`,
        `${encoded}.${signature.slice(0, -1)}g`,
        `${encoded}=.${signature}`,
        `${encoded.replace(/.$/, '+')}.${signature}`,
        `${encoded.slice(0, 4)} ${encoded.slice(4)}.${signature}`,
        ` ${token}`,
        `${token}\n`,
        `${encoded}.${signature}`.replace('.', '%2E'),
      ]
      for (const [i, input] of cases.entries()) {
        const result = verifyClientToken(SECRET, input, { relayKey: RELAY, now: ISSUED })
        expect(reasonOf(result), `case ${i}`).to.equal('malformed')
      }
    })

    it('reports malformed for a non-canonical base64url spelling of valid bytes', () => {
      // Pick a payload whose encoding ends mid-byte, so spare low bits exist to flip.
      const text = [1, 2, 3]
        .map((n) => stableStringify({ ...VECTOR.payload, relayKey: 'a'.repeat(n) }))
        .find((candidate) => Buffer.byteLength(candidate) % 3 !== 0) as string
      const canonical = Buffer.from(text).toString('base64url')
      expect(canonical.length % 4).to.not.equal(0)
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
      const last = alphabet.indexOf(canonical.slice(-1))
      const variant = canonical.slice(0, -1) + alphabet[last + 1]
      expect(Buffer.from(variant, 'base64url').equals(Buffer.from(text))).to.equal(true)
      const sig = hmacHex(SECRET, text)
      expect(reasonOf(verifyClientToken(SECRET, `${canonical}.${sig}`, { now: ISSUED }))).to.equal(
        'ok',
      )
      expect(reasonOf(verifyClientToken(SECRET, `${variant}.${sig}`, { now: ISSUED }))).to.equal(
        'malformed',
      )
    })

    it('reports malformed for signed payloads of the wrong shape or types', () => {
      const texts = [
        'not json',
        '',
        '[]',
        'null',
        '"relay-access"',
        stableStringify({ relayKey: RELAY, expiresAt: EXPIRES }),
        stableStringify({ ...VECTOR.payload, scope: 'admin' }),
        stableStringify({ ...VECTOR.payload, expiresAt: String(EXPIRES) }),
        stableStringify({ ...VECTOR.payload, expiresAt: null }),
        stableStringify({ ...VECTOR.payload, issuedAt: String(ISSUED) }),
        stableStringify({ ...VECTOR.payload, relayKey: 7 }),
      ]
      for (const [i, text] of texts.entries()) {
        const result = verifyClientToken(SECRET, rawToken(text), { relayKey: RELAY, now: ISSUED })
        expect(reasonOf(result), `case ${i}: ${text}`).to.equal('malformed')
      }
    })

    it('does not accept registration or delete signatures as tokens', () => {
      const { relayKey, signature: deleteSig } = vectors.registration.deleteSignature
      const fromDelete = `${Buffer.from(stableStringify({ relayKey })).toString('base64url')}.${deleteSig}`
      const { registration } = vectors.registration.body
      const fromRegistration = rawToken(stableStringify(registration))
      expect(signLegacyDelete(SECRET, relayKey)).to.equal(deleteSig)
      expect(fromRegistration.split('.')[1]).to.equal(signRegistration(SECRET, registration))
      for (const token of [fromDelete, fromRegistration]) {
        const result = verifyClientToken(SECRET, token, { relayKey, now: ISSUED })
        expect(reasonOf(result)).to.equal('malformed')
      }
    })

    it('refuses tokens over MAX_CLIENT_TOKEN_LENGTH even when signed', () => {
      const text = stableStringify({ ...VECTOR.payload, pad: 'x'.repeat(MAX_CLIENT_TOKEN_LENGTH) })
      const options = { relayKey: RELAY, now: ISSUED }
      expect(reasonOf(verifyClientToken(SECRET, rawToken(text), options))).to.equal('malformed')
      const fits = stableStringify({ ...VECTOR.payload, pad: 'x'.repeat(2800) })
      expect(rawToken(fits).length).to.be.at.most(MAX_CLIENT_TOKEN_LENGTH)
      expect(reasonOf(verifyClientToken(SECRET, rawToken(fits), options))).to.equal('ok')
    })

    it('never throws and never accepts random input', () => {
      const alphabets = [
        'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.',
        '0123456789abcdef.',
        '\u0000\u00ff\ud800\udfff. %=+/\n',
      ]
      const inputs: string[] = []
      for (const alphabet of alphabets) {
        for (let i = 0; i < 300; i++) inputs.push(randomString(1 + (i % 200), alphabet))
      }
      inputs.push(
        '.'.repeat(100_000),
        'a'.repeat(1_000_000),
        `${'A'.repeat(4031)}.${'0'.repeat(64)}`,
      )
      for (const input of inputs) {
        const result = verifyClientToken(SECRET, input, { relayKey: RELAY, now: ISSUED })
        expect(result.ok, JSON.stringify(input.slice(0, 80))).to.equal(false)
        expect(['malformed', 'bad-signature']).to.include(reasonOf(result))
      }
    })

    it('rejects every single-character mutation of a valid token', () => {
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'
      for (let i = 0; i < token.length; i++) {
        const current = token[i] as string
        const replacement = alphabet[(alphabet.indexOf(current) + 1) % alphabet.length] as string
        const mutated = token.slice(0, i) + replacement + token.slice(i + 1)
        const result = verifyClientToken(SECRET, mutated, { relayKey: RELAY, now: ISSUED })
        expect(reasonOf(result), `position ${i}`).to.be.oneOf(['malformed', 'bad-signature'])
      }
    })
  })

  describe('per-user tokens (later Hypertuna versions)', () => {
    const PUBKEY = 'ab'.repeat(32)

    it('verifies a token shaped as later Hypertuna versions mint it, nulls included', () => {
      const minted = {
        relayKey: RELAY,
        relayAuthToken: 'worker-credential',
        pubkey: PUBKEY,
        scope: 'relay-access',
        expiresAt: EXPIRES,
        sequence: 7,
        issuedAt: ISSUED,
      }
      const t = rawToken(stableStringify(minted))
      const result = verifyClientToken(SECRET, t, { relayKey: RELAY, now: ISSUED })
      expect(result.ok).to.equal(true)
      if (!result.ok) return
      expect(result.payload).to.deep.equal(minted)
      expect(tokenPubkey(result.payload)).to.equal(PUBKEY)
      expect(workerToken(t, result.payload)).to.equal('worker-credential')

      const anonymous = rawToken(stableStringify({ ...minted, pubkey: null, relayAuthToken: null }))
      const plain = verifyClientToken(SECRET, anonymous, { now: ISSUED })
      expect(plain.ok).to.equal(true)
      if (!plain.ok) return
      expect(tokenPubkey(plain.payload)).to.equal(null)
      expect(workerToken(anonymous, plain.payload)).to.equal(anonymous)
    })

    it('gives the worker the client token itself when the token carries no relayAuthToken', () => {
      const result = verifyClientToken(SECRET, VECTOR.token, { now: BEFORE_EXPIRY })
      expect(result.ok).to.equal(true)
      if (result.ok) expect(workerToken(VECTOR.token, result.payload)).to.equal(VECTOR.token)
    })

    it('refuses wrongly typed person fields as malformed', () => {
      const base = { relayKey: RELAY, scope: 'relay-access', issuedAt: ISSUED }
      for (const bad of [
        { pubkey: 42 },
        { pubkey: '' },
        { pubkey: 'x'.repeat(257) },
        { relayAuthToken: {} },
        { relayAuthToken: '' },
        { sequence: '7' },
      ]) {
        const result = verifyClientToken(SECRET, rawToken(stableStringify({ ...base, ...bad })))
        expect(reasonOf(result), JSON.stringify(bad)).to.equal('malformed')
      }
    })

    it('mints per-user tokens, and refuses a pubkey that is not 64 lowercase hex', () => {
      const t = issueClientToken(SECRET, {
        relayKey: RELAY,
        now: ISSUED,
        pubkey: PUBKEY,
        relayAuthToken: 'worker-credential',
      })
      const result = verifyClientToken(SECRET, t, { now: ISSUED })
      expect(result.ok && result.payload).to.deep.include({
        pubkey: PUBKEY,
        relayAuthToken: 'worker-credential',
      })
      for (const pubkey of ['AB'.repeat(32), 'ab', 'npub1xyz']) {
        const err = thrown(() => issueClientToken(SECRET, { relayKey: RELAY, pubkey }))
        expect(err).to.be.instanceOf(GatewayError).with.property('code', ErrorCode.TOKEN_INVALID)
      }
      const empty = thrown(() => issueClientToken(SECRET, { relayKey: RELAY, relayAuthToken: '' }))
      expect(empty).to.be.instanceOf(GatewayError).with.property('code', ErrorCode.TOKEN_INVALID)
      const viaExtra = thrown(() =>
        issueClientToken(SECRET, { relayKey: RELAY, extra: { pubkey: 'npub1xyz' } }),
      )
      expect(viaExtra).to.be.instanceOf(GatewayError).with.property('code', ErrorCode.TOKEN_INVALID)
    })
  })
})

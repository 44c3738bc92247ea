import { expect } from 'chai'
import { vectors } from '../helpers/vectors.js'
import { hmacHex } from '../../shared/auth/hmac.js'
import {
  signDelete,
  signLegacyDelete,
  signRegistration,
  verifyDelete,
  verifyLegacyDelete,
  verifyRegistrationSignature,
} from '../../shared/auth/registration-signature.js'
import type { DeleteRequest } from '../../shared/auth/registration-signature.js'
import { stableStringify } from '../../shared/auth/stable-stringify.js'
import { ErrorCode, GatewayError } from '../../shared/errors.js'

const SECRET = vectors.secret
const { registration: REGISTRATION, signature: SIGNATURE } = vectors.registration.body
const LEGACY_DELETE = vectors.registration.deleteSignature
const RELAY = REGISTRATION.relayKey as string

function copy<T>(value: T): T {
  return structuredClone(value)
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

describe('auth: registration signatures', () => {
  describe('registration', () => {
    it('reproduces the vector signature', () => {
      expect(signRegistration(SECRET, REGISTRATION)).to.equal(SIGNATURE)
    })

    it('verifies the vector body as received', () => {
      const received = JSON.parse(JSON.stringify(vectors.registration.body)) as {
        registration: unknown
        signature: unknown
      }
      expect(
        verifyRegistrationSignature(SECRET, received.registration, received.signature),
      ).to.equal(true)
    })

    it('does not depend on the key order the worker used', () => {
      const reversed = Object.fromEntries(Object.entries(REGISTRATION).reverse())
      expect(Object.keys(reversed)[0]).to.not.equal(Object.keys(REGISTRATION)[0])
      expect(verifyRegistrationSignature(SECRET, reversed, SIGNATURE)).to.equal(true)
    })

    it('rejects any change to the registration', () => {
      const tampered: Array<(r: Record<string, unknown>) => void> = [
        (r) => ((r.metadata as Record<string, unknown>).name = 'Other relay'),
        (r) => (r.peers as string[]).push('d'.repeat(64)),
        (r) => (r.peers = []),
        (r) => (r.issuedAt = (r.issuedAt as number) + 1),
        (r) => (r.relayKey = 'a'.repeat(64)),
        (r) => (r.extra = true),
        (r) => delete r.nonce,
      ]
      for (const [i, change] of tampered.entries()) {
        const registration = copy(REGISTRATION)
        change(registration)
        expect(
          verifyRegistrationSignature(SECRET, registration, SIGNATURE),
          `change ${i}`,
        ).to.equal(false)
      }
    })

    it('rejects a wrong secret or a tampered, re-spelled or missing signature', () => {
      expect(verifyRegistrationSignature(`${SECRET}x`, REGISTRATION, SIGNATURE)).to.equal(false)
      for (const signature of [
        flipLastHex(SIGNATURE),
        SIGNATURE.toUpperCase(),
        SIGNATURE.slice(2),
        '',
        undefined,
        null,
        42,
        [SIGNATURE],
      ]) {
        expect(verifyRegistrationSignature(SECRET, REGISTRATION, signature)).to.equal(false)
      }
    })

    it('returns false instead of throwing on odd input', () => {
      for (const registration of [null, undefined, 'text', 42, [REGISTRATION], { n: 1n }]) {
        expect(verifyRegistrationSignature(SECRET, registration, SIGNATURE)).to.equal(false)
      }
      expect(verifyRegistrationSignature('', REGISTRATION, SIGNATURE)).to.equal(false)
    })

    it('refuses a client token replayed as a registration', () => {
      const token = vectors.tokens[0]?.token ?? ''
      const [encoded = '', signature = ''] = token.split('.')
      const payload = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as unknown
      // The HMAC itself matches; only the domain check stands in the way.
      expect(hmacHex(SECRET, stableStringify(payload))).to.equal(signature)
      expect(verifyRegistrationSignature(SECRET, payload, signature)).to.equal(false)
    })

    it('refuses a signed delete request replayed as a registration', () => {
      const request = { relayKey: RELAY, nonce: 'ab'.repeat(12), issuedAt: 1764000000000 }
      const replayed = { ...request, action: 'delete' }
      const signature = signDelete(SECRET, request)
      expect(hmacHex(SECRET, stableStringify(replayed))).to.equal(signature)
      expect(verifyRegistrationSignature(SECRET, replayed, signature)).to.equal(false)
    })

    it('refuses to sign with a short secret', () => {
      expect(codeOf(() => signRegistration('x'.repeat(15), REGISTRATION))).to.equal(
        ErrorCode.SECRET_TOO_SHORT,
      )
    })
  })

  describe('legacy delete', () => {
    it('reproduces the vector signature', () => {
      expect(signLegacyDelete(SECRET, LEGACY_DELETE.relayKey)).to.equal(LEGACY_DELETE.signature)
    })

    it('verifies only for the relay it was made for', () => {
      expect(verifyLegacyDelete(SECRET, LEGACY_DELETE.relayKey, LEGACY_DELETE.signature)).to.equal(
        true,
      )
      expect(verifyLegacyDelete(SECRET, 'a'.repeat(64), LEGACY_DELETE.signature)).to.equal(false)
      expect(verifyLegacyDelete(SECRET, '', LEGACY_DELETE.signature)).to.equal(false)
      expect(
        verifyLegacyDelete(SECRET, LEGACY_DELETE.relayKey, flipLastHex(LEGACY_DELETE.signature)),
      ).to.equal(false)
      expect(verifyLegacyDelete(SECRET, LEGACY_DELETE.relayKey, undefined)).to.equal(false)
    })

    it('refuses to sign with a short secret or an empty relay key', () => {
      expect(codeOf(() => signLegacyDelete('', RELAY))).to.equal(ErrorCode.SECRET_TOO_SHORT)
      expect(codeOf(() => signLegacyDelete(SECRET, ''))).to.equal(ErrorCode.SIGNATURE_INVALID)
    })

    it('refuses an empty relay key even with a matching signature', () => {
      const signature = hmacHex(SECRET, stableStringify({ relayKey: '' }))
      expect(verifyLegacyDelete(SECRET, '', signature)).to.equal(false)
    })
  })

  describe('replay-proof delete', () => {
    const request: DeleteRequest = {
      relayKey: RELAY,
      nonce: '00112233445566778899aabb',
      issuedAt: 1764000000000,
    }

    it('signs exactly relayKey, nonce, issuedAt and action "delete"', () => {
      const text =
        `{"action":"delete","issuedAt":1764000000000,` +
        `"nonce":"00112233445566778899aabb","relayKey":"${RELAY}"}`
      expect(signDelete(SECRET, request)).to.equal(hmacHex(SECRET, text))
    })

    it('ignores extra properties on the request object', () => {
      const withExtra = { ...request, action: 'keep', note: 'x' }
      expect(signDelete(SECRET, withExtra)).to.equal(signDelete(SECRET, request))
    })

    it('verifies its own signature', () => {
      expect(verifyDelete(SECRET, request, signDelete(SECRET, request))).to.equal(true)
    })

    it('differs from the legacy form, which it does not accept', () => {
      expect(signDelete(SECRET, request)).to.not.equal(LEGACY_DELETE.signature)
      expect(verifyDelete(SECRET, request, LEGACY_DELETE.signature)).to.equal(false)
    })

    it('rejects a changed field, wrong secret or wrong types', () => {
      const signature = signDelete(SECRET, request)
      const changed: DeleteRequest[] = [
        { ...request, relayKey: 'a'.repeat(64) },
        { ...request, nonce: 'ffffffffffffffffffffffff' },
        { ...request, issuedAt: request.issuedAt + 1 },
        { ...request, issuedAt: String(request.issuedAt) as unknown as number },
        { ...request, nonce: '' },
        null as unknown as DeleteRequest,
      ]
      for (const [i, other] of changed.entries()) {
        expect(verifyDelete(SECRET, other, signature), `case ${i}`).to.equal(false)
      }
      expect(verifyDelete(`${SECRET}x`, request, signature)).to.equal(false)
      expect(verifyDelete(SECRET, request, flipLastHex(signature))).to.equal(false)
    })

    it('refuses to sign with a short secret', () => {
      expect(codeOf(() => signDelete('x'.repeat(15), request))).to.equal(ErrorCode.SECRET_TOO_SHORT)
    })

    it('refuses to sign, and to verify, fields of the wrong kind', () => {
      const odd: DeleteRequest[] = [
        { ...request, issuedAt: 1.5 },
        { ...request, issuedAt: Number.NaN },
        { ...request, relayKey: '' },
        { ...request, nonce: 7 as unknown as string },
      ]
      for (const [i, other] of odd.entries()) {
        expect(
          codeOf(() => signDelete(SECRET, other)),
          `case ${i}`,
        ).to.equal(ErrorCode.SIGNATURE_INVALID)
        // Signed the way signDelete would without its check.
        const { relayKey, nonce, issuedAt } = other
        const text = stableStringify({ relayKey, nonce, issuedAt, action: 'delete' })
        expect(verifyDelete(SECRET, other, hmacHex(SECRET, text)), `case ${i}`).to.equal(false)
      }
    })
  })
})

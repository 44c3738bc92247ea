import { expect } from 'chai'
import { thrown } from '../helpers/thrown.js'
import { ErrorCode, GatewayError } from '../../shared/errors.js'
import { assertSecret, hmacHex, safeEqualHex } from '../../shared/auth/hmac.js'

describe('auth: hmac', () => {
  describe('hmacHex', () => {
    it('matches RFC 4231 test case 2', () => {
      expect(hmacHex('Jefe', 'what do ya want for nothing?')).to.equal(
        '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
      )
    })

    it('hashes strings as UTF-8, the same as their bytes', () => {
      const text = 'caf\u00e9 \u{1f600}'
      expect(hmacHex('k', text)).to.equal(hmacHex('k', Buffer.from(text, 'utf8')))
      expect(hmacHex('k', text)).to.not.equal(hmacHex('k', Buffer.from(text, 'latin1')))
    })
  })

  describe('safeEqualHex', () => {
    const sig = hmacHex('Jefe', 'x')

    it('is true only for identical lowercase hex', () => {
      expect(safeEqualHex(sig, sig.slice())).to.equal(true)
      const flipped = sig.slice(0, -1) + (sig.endsWith('0') ? '1' : '0')
      expect(safeEqualHex(sig, flipped)).to.equal(false)
    })

    it('is false for other lengths, spellings and non-hex, without throwing', () => {
      expect(safeEqualHex(sig, sig.slice(0, -2))).to.equal(false)
      expect(safeEqualHex(sig, `${sig}00`)).to.equal(false)
      expect(safeEqualHex(sig.toUpperCase(), sig.toUpperCase())).to.equal(false)
      expect(safeEqualHex('zz', 'zz')).to.equal(false)
      expect(safeEqualHex('abc', 'abc')).to.equal(false)
      expect(safeEqualHex('', '')).to.equal(false)
      const notString = 12 as unknown as string
      expect(safeEqualHex(notString, notString)).to.equal(false)
      expect(safeEqualHex(sig, undefined as unknown as string)).to.equal(false)
    })
  })

  describe('assertSecret', () => {
    it('throws SECRET_TOO_SHORT below 16 bytes', () => {
      for (const secret of ['x'.repeat(15), '\u20ac'.repeat(5), '']) {
        const err = thrown(() => assertSecret(secret, 'GATEWAY_REGISTRATION_SECRET'))
        expect(err, JSON.stringify(secret)).to.be.instanceOf(GatewayError)
        expect((err as GatewayError).code).to.equal(ErrorCode.SECRET_TOO_SHORT)
      }
    })

    it('counts bytes, not characters, and accepts 16 bytes', () => {
      expect(thrown(() => assertSecret('x'.repeat(16)))).to.equal(undefined)
      // 8 characters, 16 bytes
      expect(thrown(() => assertSecret('\u00e9'.repeat(8)))).to.equal(undefined)
    })

    it('names the setting in its details and never the secret', () => {
      const err = thrown(() => assertSecret('short-secret', 'MY_SECRET')) as GatewayError
      expect(err.details).to.deep.equal({ name: 'MY_SECRET', bytes: 12, minBytes: 16 })
      // A negative check only: the wording may change, leaking the secret may not.
      expect(`${err.message} ${JSON.stringify(err.details)}`).to.not.include('short-secret')
    })
  })
})

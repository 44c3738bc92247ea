import { expect } from 'chai'
import { verifyClientToken } from '../../shared/auth/client-token.js'
import {
  verifyDelete,
  verifyLegacyDelete,
  verifyRegistrationSignature,
} from '../../shared/auth/registration-signature.js'
import { ErrorCode } from '../../shared/errors.js'
import { verifySignedRequest } from '../../shared/registrar-api/signed-request.js'
import { RegistrarSigner } from '../../shared/worker/registrar-signer.js'
import { thrown } from '../helpers/thrown.js'

const SHARED = 's'.repeat(32)
const ACCOUNT = 'a'.repeat(32)
const RELAY = 'r'.repeat(64)
const NOW = 1_700_000_000_000

// Header fields as the registrar reads them back into the signed object.
function fromHeaders(headers: Record<string, string>, action: string) {
  const fields: Record<string, unknown> = {
    relayKey: RELAY,
    action,
    nonce: headers['x-nonce'],
    issuedAt: Number(headers['x-issued-at']),
  }
  if (headers['x-worker-id'] !== undefined) fields.workerId = headers['x-worker-id']
  return fields
}

describe('RegistrarSigner', () => {
  const shared = new RegistrarSigner({ secret: SHARED, now: () => NOW })
  const account = new RegistrarSigner({ secret: ACCOUNT, workerId: 'w1', now: () => NOW })

  it('refuses a short secret with SECRET_TOO_SHORT', () => {
    expect(thrown(() => new RegistrarSigner({ secret: 'short' }))).to.have.property(
      'code',
      ErrorCode.SECRET_TOO_SHORT,
    )
  })

  it('signs the legacy registration payload; an account names itself in it', () => {
    const relay = { relayKey: RELAY, peers: ['b'.repeat(64)] }
    const a = shared.registration(relay)
    expect(a.registration).to.not.have.property('workerId')
    expect(a.registration).to.include({ relayKey: RELAY, issuedAt: NOW })
    expect(verifyRegistrationSignature(SHARED, a.registration, a.signature)).to.equal(true)
    const b = account.registration(relay)
    expect(b.registration).to.have.property('workerId', 'w1')
    expect(verifyRegistrationSignature(ACCOUNT, b.registration, b.signature)).to.equal(true)
    expect(verifyRegistrationSignature(SHARED, b.registration, b.signature)).to.equal(false)
  })

  it('puts nonce, issuedAt and signature in headers; x-worker-id only for an account', () => {
    const del = shared.headers(RELAY, 'delete')
    expect(del).to.not.have.property('x-worker-id')
    expect(del['x-issued-at']).to.equal(String(NOW))
    const request = { relayKey: RELAY, nonce: del['x-nonce'] as string, issuedAt: NOW }
    expect(verifyDelete(SHARED, request, del['x-signature'])).to.equal(true)

    const get = account.headers(RELAY, 'get')
    expect(get).to.have.property('x-worker-id', 'w1')
    expect(verifySignedRequest(ACCOUNT, fromHeaders(get, 'get'), get['x-signature'])).to.equal(true)
    const accountDelete = account.headers(RELAY, 'delete')
    expect(
      verifySignedRequest(
        ACCOUNT,
        fromHeaders(accountDelete, 'delete'),
        accountDelete['x-signature'],
      ),
    ).to.equal(true)
    // Fresh nonce every time: a signed header set is never reused.
    expect(account.headers(RELAY, 'get')['x-nonce']).to.not.equal(get['x-nonce'])
  })

  it('signs the legacy DELETE over the relay key alone', () => {
    const { 'x-signature': signature } = shared.legacyDeleteHeaders(RELAY)
    expect(verifyLegacyDelete(SHARED, RELAY, signature)).to.equal(true)
  })

  it('signs request bodies whole, the account included', () => {
    const body = account.body(RELAY, 'token-issue', { ttl: 60 })
    const { signature, ...fields } = body
    expect(fields).to.include({ relayKey: RELAY, action: 'token-issue', ttl: 60, workerId: 'w1' })
    expect(verifySignedRequest(ACCOUNT, fields, signature)).to.equal(true)
    expect(verifySignedRequest(ACCOUNT, { ...fields, ttl: 61 }, signature)).to.equal(false)
  })

  it('mints local client tokens with the secret', () => {
    const { token, issuedAt } = shared.localToken(RELAY, { ttlMs: 60_000, pubkey: undefined })
    expect(issuedAt).to.equal(NOW)
    const verdict = verifyClientToken(SHARED, token, { now: NOW, relayKey: RELAY })
    expect(verdict.ok).to.equal(true)
    expect(verdict.payload).to.not.have.property('pubkey')
  })
})

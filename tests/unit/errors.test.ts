import { expect } from 'chai'
import { ErrorCode, GatewayError, wireCode } from '../../shared/errors.js'
import { RegistrarErrorCode } from '../../shared/registrar-api/registrar-error-code.js'
import { HttpError, relayNotFound, storeUnavailable } from '../../registrar/http-error.js'
import { countOutcome, outcomeOf } from '../../registrar/outcome.js'

// The registrar's answer codes as workers in the field read them: renaming one breaks them.
const PUBLISHED_REGISTRAR_CODES = [
  'invalid_json',
  'body_too_large',
  'invalid_body',
  'invalid_relay_key',
  'invalid_gateway_path',
  'ttl_too_long',
  'signature_missing',
  'signature_invalid',
  'stale_registration',
  'stale_request',
  'replayed_nonce',
  'legacy_delete_disabled',
  'gateway_path_taken',
  'relay_not_found',
  'relay_owned',
  'worker_disabled',
  'worker_unknown',
  'shared_secret_disabled',
  'worker_secret_unreadable',
  'token_invalid',
  'token_expired',
  'token_revoked',
  'not_found',
  'rate_limited',
  'admin_unauthorized',
  'not_configured',
  'store_unavailable',
  'internal_error',
]

describe('errors: one registry of stable codes', () => {
  it('names every code after itself, so a code is its own key', () => {
    for (const [key, value] of Object.entries(ErrorCode)) expect(value).to.equal(key)
  })

  it('picks the registrar codes from the registry and keeps their published wire values', () => {
    const registry: ReadonlySet<string> = new Set(Object.values(ErrorCode))
    for (const code of Object.values(RegistrarErrorCode)) expect(registry.has(code)).to.equal(true)
    expect(Object.values(RegistrarErrorCode).map(wireCode)).to.have.members(
      PUBLISHED_REGISTRAR_CODES,
    )
  })

  it('writes a code in lower case outside the process', () => {
    expect(wireCode(ErrorCode.STORE_UNAVAILABLE)).to.equal('store_unavailable')
  })

  it('makes HttpError a GatewayError that also carries status, headers and its answer', () => {
    const err = storeUnavailable(7)
    expect(err).to.be.instanceOf(GatewayError)
    expect(err).to.be.instanceOf(HttpError)
    expect(err.code).to.equal(ErrorCode.STORE_UNAVAILABLE)
    expect(err.status).to.equal(503)
    expect(err.headers).to.deep.equal({ 'retry-after': '7' })
    expect(err.body()).to.deep.equal({ error: err.message, code: 'store_unavailable' })
    expect(relayNotFound().wireCode).to.equal('relay_not_found')
  })

  it('labels outcomes with wire codes: refusals by code, store outages, anything else', () => {
    expect(outcomeOf(relayNotFound())).to.equal('relay_not_found')
    expect(outcomeOf(new GatewayError(ErrorCode.STORE_CLOSED, 'closed'))).to.equal(
      'store_unavailable',
    )
    expect(outcomeOf(new Error('bug'))).to.equal('internal_error')
  })

  it('counts a run once: ok with its result, or the code of what it threw, rethrown', async () => {
    const seen: string[] = []
    expect(
      await countOutcome(
        (o) => seen.push(o),
        async () => 7,
      ),
    ).to.equal(7)
    const failure = relayNotFound()
    const thrown = await countOutcome(
      (o) => seen.push(o),
      async () => {
        throw failure
      },
    ).catch((err: unknown) => err)
    expect(thrown).to.equal(failure)
    expect(seen).to.deep.equal(['ok', 'relay_not_found'])
  })
})

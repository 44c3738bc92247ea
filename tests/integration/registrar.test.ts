import { expect } from 'chai'
import { signLegacyDelete } from '../../shared/auth/registration-signature.js'
import { CAPABILITIES_HEADER } from '../../shared/registrar-api/registrar-capabilities.js'
import {
  ManualClock,
  SECRET,
  eventually,
  hexKey,
  makeRegistration,
  memoryStores,
  metricValue,
  registrationBody,
  signedHeaders,
  startRegistrar,
} from '../helpers/registrar-harness.js'
import {
  call,
  expectRefused,
  forEachStore,
  metric,
  register,
  relayUrl,
} from '../helpers/registrar-suite.js'
import { vectors } from '../helpers/vectors.js'

const VECTOR_BODY = vectors.registration.body
const VECTOR_RELAY = VECTOR_BODY.registration.relayKey as string
const LEGACY_DELETE = vectors.registration.deleteSignature

forEachStore('registrar relay routes', (s) => {
  let clock: ManualClock
  beforeEach(() => {
    clock = s.clock
  })
  const start = s.start
  const registered = s.registered

  describe('POST /api/relays', () => {
    it('accepts the vector registration inside the skew window and stores it', async () => {
      const h = start()
      const answer = await register(h, VECTOR_BODY)
      expect(answer.status).to.equal(200)
      expect(answer.body).to.deep.equal({ status: 'ok' })
      expect(answer.headers['x-registration-ttl']).to.equal('300')
      expect(answer.headers[CAPABILITIES_HEADER]).to.contain('replay-proof-delete')

      const stored = await h.store.getRegistration(VECTOR_RELAY)
      expect(stored?.peers).to.deep.equal(VECTOR_BODY.registration.peers)
      expect(stored?.metadata).to.deep.equal(VECTOR_BODY.registration.metadata)
      expect(stored?.nonce).to.equal(VECTOR_BODY.registration.nonce)
      expect(stored?.issuedAt).to.equal(VECTOR_BODY.registration.issuedAt)
      expect(stored?.registeredAt).to.equal(clock.now())
      expect(await h.store.resolveRelay(VECTOR_RELAY)).to.not.equal(null)
      expect(
        await metricValue(h.registry, metric('registrations_total'), {
          outcome: 'accepted',
          reason: 'ok',
        }),
      ).to.equal(1)
    })

    it('keeps extra legacy fields inside the signature', async () => {
      const h = start()
      const registration = makeRegistration(clock, { workerVersion: '1.2.3', extra: { a: [1] } })
      expect((await register(h, registrationBody(registration))).status).to.equal(200)
      const tampered = registrationBody(makeRegistration(clock, { workerVersion: '1.2.3' }))
      ;(tampered.registration as Record<string, unknown>).workerVersion = '9.9.9'
      expectRefused(await register(h, tampered), 401, 'signature_invalid')
    })

    it('refuses a tampered registration with 401 and does not spend its nonce', async () => {
      const h = start()
      const tampered = structuredClone(VECTOR_BODY)
      tampered.registration.peers = [hexKey()]
      expectRefused(await register(h, tampered), 401, 'signature_invalid')
      expect(await h.store.getRegistration(VECTOR_RELAY)).to.equal(null)
      // Same nonce, genuine signature: still accepted, so forgeries cannot burn nonces.
      expect((await register(h, VECTOR_BODY)).status).to.equal(200)
      expect(
        await metricValue(h.registry, metric('signature_failures_total'), { route: 'register' }),
      ).to.equal(1)
    })

    it('refuses a missing signature with 401', async () => {
      const h = start()
      const answer = await register(h, { registration: VECTOR_BODY.registration })
      expectRefused(answer, 401, 'signature_missing')
    })

    it('refuses a replayed nonce', async () => {
      const h = start()
      expect((await register(h, VECTOR_BODY)).status).to.equal(200)
      expectRefused(await register(h, VECTOR_BODY), 409, 'replayed_nonce')
      expect(
        await metricValue(h.registry, metric('replay_rejections_total'), {
          route: 'register',
          reason: 'nonce',
        }),
      ).to.equal(1)
    })

    it('refuses an issuedAt outside the skew window, either way, without spending the nonce', async () => {
      const h = start({ maxSkewSeconds: 60 })
      clock.t = 1_764_000_000_000 + 60_001
      expectRefused(await register(h, VECTOR_BODY), 401, 'stale_registration')
      clock.t = 1_764_000_000_000 - 60_001
      expectRefused(await register(h, VECTOR_BODY), 401, 'stale_registration')
      clock.t = 1_764_000_000_000 + 60_000
      expect((await register(h, VECTOR_BODY)).status).to.equal(200)
    })

    it('lets a registration lapse after its TTL unless renewed', async () => {
      const h = start({ registrationTtlSeconds: 1 })
      const { relayKey } = await registered(h)
      const ttl = await h.store.registrationTtl(relayKey)
      expect(ttl).to.be.a('number').within(1, 1000)
      if (s.kind.followsClock) clock.advance(1_001)
      await eventually(async () => {
        const answer = await call(h, {
          method: 'GET',
          url: relayUrl(relayKey),
          headers: signedHeaders('get', relayKey, clock),
        })
        // Redis may report a 0 ms TTL (answered 404) a moment before the key itself goes.
        const gone = (await h.store.resolveRelay(relayKey)) === null
        return gone && answer.status === 404 && answer.body.code === 'relay_not_found'
      })
    })

    it('renewal replaces the registration and extends it', async () => {
      const h = start()
      const first = await registered(h, { peers: [hexKey()] })
      clock.advance(10_000)
      const peers = [hexKey(), hexKey()]
      await registered(h, { relayKey: first.relayKey, peers })
      const stored = await h.store.getRegistration(first.relayKey)
      expect(stored?.peers).to.deep.equal(peers)
      expect(stored?.registeredAt).to.equal(clock.now())
    })

    it('guards gateway path aliases', async () => {
      const h = start()
      const owner = await registered(h, { metadata: { gatewayPath: 'my-relay' } })
      expect((await h.store.resolveRelay('my-relay'))?.relayKey).to.equal(owner.relayKey)
      // The owner may re-register with its alias; another relay may not take it.
      await registered(h, { relayKey: owner.relayKey, metadata: { gatewayPath: 'my-relay' } })
      const thief = makeRegistration(clock, { metadata: { gatewayPath: 'my-relay' } })
      expectRefused(await register(h, registrationBody(thief)), 409, 'gateway_path_taken')
      for (const gatewayPath of ['api/x', 'a//b', '../x', 'sp ace', hexKey(), 'npub1abc/name']) {
        const bad = makeRegistration(clock, { metadata: { gatewayPath } })
        expectRefused(await register(h, registrationBody(bad)), 400, 'invalid_gateway_path')
      }
      await registered(h, { metadata: { gatewayPath: 'team/relay-2' } })
    })

    it('accepts <npub>:<name> relay keys', async () => {
      const h = start()
      const { relayKey } = await registered(h, { relayKey: 'npub1example:my-relay' })
      const answer = await call(h, {
        method: 'GET',
        url: relayUrl(relayKey),
        headers: signedHeaders('get', relayKey, clock),
      })
      expect(answer.status).to.equal(200)
      const encoded = await call(h, {
        method: 'DELETE',
        url: relayUrl('npub1example%3Amy-relay'),
        headers: signedHeaders('delete', relayKey, clock),
      })
      expect(encoded.status).to.equal(200)
    })
  })

  describe('DELETE /api/relays/:relayKey', () => {
    it('accepts the legacy vector signature, counts it and warns once per relay', async () => {
      const h = start()
      expect((await register(h, VECTOR_BODY)).status).to.equal(200)
      const legacy = { 'x-signature': LEGACY_DELETE.signature }
      const answer = await call(h, {
        method: 'DELETE',
        url: relayUrl(LEGACY_DELETE.relayKey),
        headers: legacy,
      })
      expect(answer.status).to.equal(200)
      expect(answer.body).to.deep.equal({ status: 'ok' })
      expect(await h.store.getRegistration(VECTOR_RELAY)).to.equal(null)
      // Already gone: legacy still answers 200, as the legacy registrar did. A bodiless DELETE
      // labelled as JSON (some HTTP clients always send the header) is served too.
      const again = await call(h, {
        method: 'DELETE',
        url: relayUrl(VECTOR_RELAY),
        headers: { ...legacy, 'content-type': 'application/json' },
      })
      expect(again.status).to.equal(200)
      expect(
        await metricValue(h.registry, metric('legacy_delete_total'), { outcome: 'ok' }),
      ).to.equal(2)
      const warnings = h.sink.lines().filter((l) => l.level === 40 && l.form === 'legacy')
      expect(warnings).to.have.length(1)
    })

    it('refuses a missing or wrong legacy signature with 401', async () => {
      const h = start()
      const { relayKey } = await registered(h)
      const missing = await call(h, { method: 'DELETE', url: relayUrl(relayKey) })
      expectRefused(missing, 401, 'signature_missing')
      const wrong = await call(h, {
        method: 'DELETE',
        url: relayUrl(relayKey),
        headers: { 'x-signature': LEGACY_DELETE.signature },
      })
      expectRefused(wrong, 401, 'signature_invalid')
      expect(await h.store.getRegistration(relayKey)).to.not.equal(null)
    })

    it('refuses the legacy form when it is switched off', async () => {
      const h = start({ legacyDelete: false })
      const { relayKey } = await registered(h)
      const answer = await call(h, {
        method: 'DELETE',
        url: relayUrl(relayKey),
        headers: { 'x-signature': signLegacyDelete(SECRET, relayKey) },
      })
      expectRefused(answer, 401, 'legacy_delete_disabled')
      expect(await h.store.getRegistration(relayKey)).to.not.equal(null)
      const signed = await call(h, {
        method: 'DELETE',
        url: relayUrl(relayKey),
        headers: signedHeaders('delete', relayKey, clock),
      })
      expect(signed.status).to.equal(200)
    })

    it('accepts the replay-proof form once, and refuses replays, stale and forged ones', async () => {
      const h = start()
      const { relayKey } = await registered(h)
      const headers = signedHeaders('delete', relayKey, clock)
      const forged = { ...headers, 'x-nonce': 'ffffffffffffffffffffffff' }
      expectRefused(
        await call(h, { method: 'DELETE', url: relayUrl(relayKey), headers: forged }),
        401,
        'signature_invalid',
      )
      const stale = signedHeaders('delete', relayKey, clock, { issuedAt: clock.now() - 301_000 })
      expectRefused(
        await call(h, { method: 'DELETE', url: relayUrl(relayKey), headers: stale }),
        401,
        'stale_request',
      )
      const ok = await call(h, { method: 'DELETE', url: relayUrl(relayKey), headers })
      expect(ok.status).to.equal(200)
      expect(await h.store.getRegistration(relayKey)).to.equal(null)
      await registered(h, { relayKey })
      expectRefused(
        await call(h, { method: 'DELETE', url: relayUrl(relayKey), headers }),
        409,
        'replayed_nonce',
      )
      expect(await h.store.getRegistration(relayKey)).to.not.equal(null)
      const gone = hexKey()
      expectRefused(
        await call(h, {
          method: 'DELETE',
          url: relayUrl(gone),
          headers: signedHeaders('delete', gone, clock),
        }),
        404,
        'relay_not_found',
      )
      const partial = { 'x-nonce': 'abcdefabcdefabcdefabcdef' }
      expectRefused(
        await call(h, { method: 'DELETE', url: relayUrl(relayKey), headers: partial }),
        400,
        'invalid_body',
      )
      expect(
        await metricValue(h.registry, metric('legacy_delete_total'), { outcome: 'ok' }),
      ).to.equal(0)
    })
  })

  describe('GET /api/relays/:relayKey', () => {
    it('returns the registration as stored and its remaining TTL to a signed caller', async () => {
      const h = start()
      expect((await register(h, VECTOR_BODY)).status).to.equal(200)
      const answer = await call(h, {
        method: 'GET',
        url: relayUrl(VECTOR_RELAY),
        headers: signedHeaders('get', VECTOR_RELAY, clock),
      })
      expect(answer.status).to.equal(200)
      expect(answer.body.registration).to.deep.equal(await h.store.getRegistration(VECTOR_RELAY))
      expect(answer.body.ttlMs).to.be.a('number').within(290_000, 300_000)
    })

    it('refuses unsigned, forged, replayed and stale reads', async () => {
      const h = start()
      const { relayKey } = await registered(h)
      expectRefused(
        await call(h, {
          method: 'GET',
          url: relayUrl(relayKey),
          headers: { 'x-nonce': 'abcdefabcdefabcdefabcdef', 'x-issued-at': String(clock.now()) },
        }),
        401,
        'signature_missing',
      )
      const wrongAction = signedHeaders('delete', relayKey, clock)
      expectRefused(
        await call(h, { method: 'GET', url: relayUrl(relayKey), headers: wrongAction }),
        401,
        'signature_invalid',
      )
      const headers = signedHeaders('get', relayKey, clock)
      expect((await call(h, { method: 'GET', url: relayUrl(relayKey), headers })).status).to.equal(
        200,
      )
      expectRefused(
        await call(h, { method: 'GET', url: relayUrl(relayKey), headers }),
        409,
        'replayed_nonce',
      )
      const stale = signedHeaders('get', relayKey, clock, { issuedAt: clock.now() + 301_000 })
      expectRefused(
        await call(h, { method: 'GET', url: relayUrl(relayKey), headers: stale }),
        401,
        'stale_request',
      )
    })

    it('answers 404 for an unknown relay', async () => {
      const h = start()
      const relayKey = hexKey()
      expectRefused(
        await call(h, {
          method: 'GET',
          url: relayUrl(relayKey),
          headers: signedHeaders('get', relayKey, clock),
        }),
        404,
        'relay_not_found',
      )
    })
  })
})

describe('RegistrarServer lifecycle', () => {
  it('listens, closes idempotently and frees its metrics', async () => {
    const kind = memoryStores()
    const clock = new ManualClock()
    const h = startRegistrar({ store: kind.create(clock), clock })
    const [a, b] = await Promise.all([h.server.listen(), h.server.listen()])
    expect(a).to.equal(b)
    expect(h.server.address?.port).to.be.greaterThan(0)
    const res = await fetch(new URL('/health', a.url))
    expect(res.status).to.equal(200)
    await Promise.all([h.close(), h.close()])
    expect(h.server.address).to.equal(null)
    expect(h.registry.getSingleMetric(metric('registrations_total'))).to.equal(undefined)
    await kind.close()
  })
})

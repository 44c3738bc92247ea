import { expect } from 'chai'
import type { InjectOptions } from 'fastify'
import { pino } from 'pino'
import { SignedAction } from '../../shared/registrar-api/signed-request.js'
import { createRateLimiter } from '../../registrar/create-rate-limiter.js'
import type { ManualClock } from '../helpers/registrar-harness.js'
import {
  SECRET,
  hexKey,
  makeRegistration,
  metricValue,
  registrationBody,
  signedHeaders,
  tokenBody,
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

forEachStore('registrar input and operations', (s) => {
  let clock: ManualClock
  beforeEach(() => {
    clock = s.clock
  })
  const start = s.start
  const registered = s.registered

  describe('bad input', () => {
    it('answers every malformed request with a 4xx and a code', async () => {
      const h = start({ bodyLimitBytes: 4096 })
      const json = { 'content-type': 'application/json' }
      const cases: Array<[InjectOptions, number, string]> = [
        [
          { method: 'POST', url: '/api/relays', payload: '{"registration":', headers: json },
          400,
          'invalid_json',
        ],
        [
          {
            method: 'POST',
            url: '/api/relays',
            payload: 'not json at all',
            headers: { 'content-type': 'text/plain' },
          },
          400,
          'invalid_json',
        ],
        [{ method: 'POST', url: '/api/relays', payload: '', headers: json }, 400, 'invalid_body'],
        [
          {
            method: 'POST',
            url: '/api/relays',
            payload: `{"a":"${'x'.repeat(5000)}"}`,
            headers: json,
          },
          413,
          'body_too_large',
        ],
        [{ method: 'POST', url: '/api/relays' }, 400, 'invalid_body'],
        [{ method: 'POST', url: '/api/relays', payload: '[]', headers: json }, 400, 'invalid_body'],
        [
          { method: 'POST', url: '/api/relays', payload: '"text"', headers: json },
          400,
          'invalid_body',
        ],
        [{ method: 'POST', url: '/api/relays', payload: { signature: 'ab' } }, 400, 'invalid_body'],
        [
          { method: 'POST', url: '/api/relays', payload: { registration: {}, signature: 'ab' } },
          400,
          'invalid_body',
        ],
        [
          {
            method: 'POST',
            url: '/api/relays',
            payload: { registration: { relayKey: 5 }, signature: 'ab' },
          },
          400,
          'invalid_body',
        ],
        [
          {
            method: 'POST',
            url: '/api/relays',
            payload: { registration: { relayKey: 'x' }, signature: 'ab' },
          },
          400,
          'invalid_relay_key',
        ],
        [
          { method: 'POST', url: '/api/relays', payload: { registration: 'r', signature: 'ab' } },
          400,
          'invalid_body',
        ],
        [
          { method: 'POST', url: '/api/relays', payload: '{"__proto__":{"x":1}}', headers: json },
          400,
          'invalid_json',
        ],
        [
          { method: 'DELETE', url: '/api/relays/not-a-key', headers: { 'x-signature': 'ab' } },
          400,
          'invalid_relay_key',
        ],
        [{ method: 'GET', url: `/api/relays/${'a'.repeat(600)}` }, 414, 'invalid_relay_key'],
        [{ method: 'GET', url: '/api/relays/%E0%A4%A' }, 400, 'invalid_body'],
        [
          { method: 'GET', url: `/api/relays/${hexKey()}`, headers: { 'x-nonce': 'short' } },
          400,
          'invalid_body',
        ],
        [
          {
            method: 'GET',
            url: `/api/relays/${hexKey()}`,
            headers: { 'x-nonce': 'abcdefabcdef', 'x-issued-at': '12e3' },
          },
          400,
          'invalid_body',
        ],
        [
          { method: 'POST', url: `/api/relays/${hexKey()}/tokens`, payload: { relayKey: 1 } },
          400,
          'invalid_body',
        ],
        [{ method: 'PUT', url: '/api/relays' }, 404, 'not_found'],
        [{ method: 'GET', url: '/nowhere' }, 404, 'not_found'],
      ]
      for (const [request, status, code] of cases) {
        const answer = await call(h, request)
        expect(answer.status, `${request.method} ${request.url}`).to.equal(status)
        expect(answer.body.code, `${request.method} ${request.url}`).to.equal(code)
      }
    })

    it('refuses registrations with wrong types or missing fields', async () => {
      const h = start()
      const broken: Array<Record<string, unknown>> = [
        { peers: [] },
        { peers: 'cc' },
        { peers: ['CC'.repeat(32)] },
        { peers: ['xyz'] },
        { issuedAt: '1764000000000' },
        { issuedAt: 1.5 },
        { issuedAt: undefined },
        { nonce: undefined },
        { nonce: 'a b' },
        { metadata: 'public' },
        { metadata: { isPublic: 'yes' } },
        { metadata: { gatewayPath: 7 } },
        { relayKey: 'B'.repeat(64) },
      ]
      for (const fields of broken) {
        const answer = await register(h, registrationBody(makeRegistration(clock, fields)))
        expect(answer.status, JSON.stringify(fields)).to.equal(400)
        expect(answer.body.code, JSON.stringify(fields)).to.be.oneOf([
          'invalid_body',
          'invalid_relay_key',
        ])
      }
      expect(await h.store.listRegistrations()).to.deep.equal([])
    })

    it('survives random garbage', async () => {
      const h = start()
      const samples: unknown[] = [
        null,
        0,
        true,
        [],
        [{}],
        { registration: null },
        { registration: [] },
      ]
      for (let i = 0; i < 30; i++) {
        samples.push({
          registration: { relayKey: hexKey(), nonce: i, issuedAt: {}, peers: [i], metadata: [i] },
          signature: i % 2 === 0 ? 'x' : null,
        })
      }
      for (const payload of samples) {
        const answer = await call(h, {
          method: 'POST',
          url: '/api/relays',
          payload: JSON.stringify(payload),
          headers: { 'content-type': 'application/json' },
        })
        expect(answer.status).to.be.within(400, 499)
        expect(answer.body.code).to.be.a('string')
      }
      expect((await call(h, { method: 'GET', url: '/health' })).status).to.equal(200)
    })

    it('answers 503 not_configured on every relay route without a secret', async () => {
      const h = start({ secret: '' })
      const relayKey = hexKey()
      const requests: InjectOptions[] = [
        { method: 'POST', url: '/api/relays', payload: VECTOR_BODY },
        {
          method: 'DELETE',
          url: relayUrl(VECTOR_RELAY),
          headers: { 'x-signature': LEGACY_DELETE.signature },
        },
        {
          method: 'DELETE',
          url: relayUrl(relayKey),
          headers: signedHeaders('delete', relayKey, clock),
        },
        {
          method: 'GET',
          url: relayUrl(relayKey),
          headers: signedHeaders('get', relayKey, clock),
        },
        {
          method: 'POST',
          url: relayUrl(relayKey, '/tokens'),
          payload: tokenBody(SignedAction.TOKEN_ISSUE, relayKey, clock),
        },
        {
          method: 'POST',
          url: relayUrl(relayKey, '/tokens/revoke'),
          payload: tokenBody(SignedAction.TOKEN_REVOKE, relayKey, clock),
        },
      ]
      for (const request of requests) expectRefused(await call(h, request), 503, 'not_configured')
      expect((await call(h, { method: 'GET', url: '/ready' })).status).to.equal(200)
    })
  })

  describe('rate limiting', () => {
    it('limits per client IP, believing X-Forwarded-For only from trusted proxies', async () => {
      // The limiter is backed by the suite's store kind, as main.ts wires it.
      const limiter = createRateLimiter({
        pointsPerMinute: 3,
        redisUrl: s.redis?.url ?? '',
        redisPrefix: `rl:${hexKey().slice(0, 8)}:`,
        logger: pino({ level: 'silent' }),
      })
      const h = start({ trustedProxies: ['10.0.0.1'] }, { rateLimiter: limiter.limiter })
      try {
        const from = (remoteAddress: string, forwarded?: string) =>
          call(h, {
            method: 'GET',
            url: '/api/capabilities',
            remoteAddress,
            headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded },
          })
        for (let i = 0; i < 3; i++)
          expect((await from('10.0.0.1', '203.0.113.7')).status).to.equal(200)
        const limited = await from('10.0.0.1', '203.0.113.7')
        expectRefused(limited, 429, 'rate_limited')
        expect(Number(limited.headers['retry-after'])).to.be.within(1, 60)
        // Another client behind the same trusted proxy has its own budget.
        expect((await from('10.0.0.1', '203.0.113.8')).status).to.equal(200)
        // An untrusted peer cannot pick its address with X-Forwarded-For.
        for (let i = 0; i < 3; i++)
          expect((await from('198.51.100.1', `192.0.2.${i}`)).status).to.equal(200)
        expectRefused(await from('198.51.100.1', '192.0.2.200'), 429, 'rate_limited')
        // Health, readiness and metrics stay reachable.
        expect((await from('10.0.0.1', '203.0.113.7')).status).to.equal(429)
        for (const url of ['/health', '/ready', '/metrics']) {
          const res = await h.server.inject({
            method: 'GET',
            url,
            remoteAddress: '10.0.0.1',
            headers: { 'x-forwarded-for': '203.0.113.7' },
          })
          expect(res.statusCode, url).to.equal(200)
        }
        expect(await metricValue(h.registry, metric('rate_limited_total'))).to.equal(3)
      } finally {
        await limiter.close()
      }
    })
  })

  describe('operations', () => {
    it('serves /health, /ready, /metrics and the capabilities', async () => {
      const h = start()
      await registered(h)
      await registered(h)
      expect((await call(h, { method: 'GET', url: '/health' })).body).to.deep.equal({
        status: 'ok',
      })
      expect((await call(h, { method: 'GET', url: '/ready' })).status).to.equal(200)
      const caps = await call(h, { method: 'GET', url: '/api/capabilities' })
      expect(caps.body.capabilities).to.include.members([
        'replay-proof-delete',
        'tokens',
        'registration-get',
      ])
      const metrics = await h.server.inject({ method: 'GET', url: '/metrics' })
      expect(metrics.statusCode).to.equal(200)
      expect(metrics.headers['content-type']).to.contain('text/plain')
      expect(metrics.body).to.contain(`${metric('active_registrations')} 2`)
      expect(metrics.body).to.contain(metric('registrations_total'))
      expect(metrics.body).to.contain(metric('legacy_delete_total'))
    })

    it('answers /ready 503 when the store is gone', async () => {
      const h = start()
      await h.store.close()
      const ready = await call(h, { method: 'GET', url: '/ready' })
      expectRefused(ready, 503, 'store_unavailable')
      expect(ready.headers['retry-after']).to.equal('5')
      expectRefused(await register(h, VECTOR_BODY), 503, 'store_unavailable')
      expect((await call(h, { method: 'GET', url: '/health' })).status).to.equal(200)
    })

    it('logs every decision without secrets, signatures or tokens', async () => {
      const h = start()
      expect((await register(h, VECTOR_BODY)).status).to.equal(200)
      const tampered = structuredClone(VECTOR_BODY)
      tampered.registration.peers = [hexKey()]
      await register(h, tampered)
      const issued = await call(h, {
        method: 'POST',
        url: relayUrl(VECTOR_RELAY, '/tokens'),
        payload: tokenBody(SignedAction.TOKEN_ISSUE, VECTOR_RELAY, clock),
      })
      await call(h, {
        method: 'DELETE',
        url: relayUrl(VECTOR_RELAY),
        headers: { 'x-signature': LEGACY_DELETE.signature },
      })
      const text = h.sink.text()
      for (const secret of [
        SECRET,
        VECTOR_BODY.signature,
        LEGACY_DELETE.signature,
        String(issued.body.token),
      ]) {
        expect(text).to.not.contain(secret)
      }
      const decisions = h.sink.lines().filter((l) => l.decision !== undefined)
      expect(decisions.map((l) => [l.decision, l.code ?? null])).to.deep.include.members([
        ['accepted', null],
        ['rejected', 'signature_invalid'],
      ])
      expect(h.sink.find((l) => l.msg === 'token issued')).to.not.equal(undefined)
      expect(h.sink.find((l) => l.msg === 'relay removed')).to.not.equal(undefined)
    })
  })
})

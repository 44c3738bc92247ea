import { expect } from 'chai'
import fc from 'fast-check'
import { MemoryStore } from '../../shared/store/memory-store.js'
import {
  ManualClock,
  hexKey,
  makeRegistration,
  registrationBody,
  startRegistrar,
} from '../helpers/registrar-harness.js'
import type { RegistrarHarness } from '../helpers/registrar-harness.js'
import { call, register } from '../helpers/registrar-suite.js'
import { fuzzBudget } from './fuzz-budget.js'
import { trapUncaught } from './trap-uncaught.js'

// Issue 9.2, registrar side: random JSON (and non-JSON) at every route answers a 4xx with a
// stable code, never a 500, and a bystander registration still succeeds afterwards.
describe('registrar fuzz: random JSON at every route', function () {
  this.timeout(60_000)
  let h: RegistrarHarness
  let relayKey: string
  const trap = trapUncaught()

  before(async () => {
    h = startRegistrar({ store: new MemoryStore(), clock: new ManualClock() })
    relayKey = hexKey()
    const answer = await register(h, registrationBody(makeRegistration(h.clock, { relayKey })))
    expect(answer.status).to.equal(200)
  })

  after(async () => {
    trap.release()
    await h?.close()
  })

  afterEach(() => expect(trap.errors.map(String)).to.deep.equal([]))

  const routes = [
    ['POST', '/api/relays'],
    ['DELETE', '/api/relays'],
    ['DELETE', `/api/relays/${'0'.repeat(64)}`],
    ['GET', `/api/relays/${'0'.repeat(64)}`],
    ['POST', `/api/relays/${'0'.repeat(64)}/tokens`],
    ['POST', `/api/relays/${'0'.repeat(64)}/tokens/refresh`],
    ['POST', `/api/relays/${'0'.repeat(64)}/tokens/revoke`],
  ] as const
  const route = fc.constantFrom(...routes).map(([method, url]) => ({
    method,
    url: url.replace('0'.repeat(64), relayKey),
  }))
  // Shapes close to real bodies, prototype keys, and anything JSON at all.
  const nasty = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString')
  const body = fc.oneof(
    fc.jsonValue(),
    fc.record(
      {
        registration: fc.oneof(
          fc.jsonValue(),
          fc.record({
            relayKey: fc.oneof(fc.string(), fc.constant(hexKey()), fc.jsonValue()),
            peers: fc.oneof(fc.array(fc.string()), fc.jsonValue()),
            nonce: fc.jsonValue(),
            issuedAt: fc.oneof(fc.integer(), fc.double(), fc.jsonValue()),
            metadata: fc.oneof(fc.dictionary(fc.oneof(fc.string(), nasty), fc.jsonValue())),
          }),
        ),
        signature: fc.oneof(fc.stringMatching(/^[0-9a-f]{0,64}$/), fc.jsonValue()),
        token: fc.jsonValue(),
        ttl: fc.jsonValue(),
      },
      { requiredKeys: [] },
    ),
    fc.dictionary(nasty, fc.jsonValue()),
  )
  const payload = fc.oneof(
    { weight: 4, arbitrary: body.map((b) => JSON.stringify(b) ?? 'null') },
    { weight: 1, arbitrary: fc.string({ maxLength: 100 }) },
    { weight: 1, arbitrary: fc.constantFrom('{', '[', '{"a":', '\u0000', '{"__proto__":{"x":1}}') },
  )
  const contentType = fc.constantFrom(
    'application/json',
    'text/plain',
    'application/x-www-form-urlencoded',
    'application/json; charset=utf-16',
    '',
  )

  it('answers every request with a 4xx and a code (never a 500), and keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(route, payload, contentType, async ({ method, url }, text, type) => {
        const answer = await call(h, {
          method,
          url,
          payload: text,
          headers: type === '' ? {} : { 'content-type': type },
        })
        expect(answer.status, JSON.stringify(answer.body)).to.be.within(400, 499)
        expect(answer.body.code).to.be.a('string')
        expect(({} as Record<string, unknown>).x, 'prototype polluted').to.equal(undefined)
      }),
      fuzzBudget(),
    )
    const bystander = await register(h, registrationBody(makeRegistration(h.clock)))
    expect(bystander.status).to.equal(200)
  })
})

import { randomBytes } from 'node:crypto'
import { expect } from 'chai'
import fc from 'fast-check'
import { MemoryStore } from '../../shared/store/memory-store.js'
import { ManualClock, startRegistrar } from '../helpers/registrar-harness.js'
import type { RegistrarHarness } from '../helpers/registrar-harness.js'
import { call } from '../helpers/registrar-suite.js'
import { fuzzBudget } from './fuzz-budget.js'
import { trapUncaught } from './trap-uncaught.js'

const ADMIN_TOKEN = `admin-fuzz-${randomBytes(24).toString('hex')}`
const AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` }

// Issue 15, admin side: malformed JSON and ids at every admin route (worker accounts
// included), with the right token, answer a 4xx with a code, never a 500, never a crash, and
// create no account by accident.
describe('admin API fuzz: random bodies and ids at every admin route', function () {
  this.timeout(60_000)
  let h: RegistrarHarness
  const trap = trapUncaught()

  before(() => {
    h = startRegistrar({
      store: new MemoryStore(),
      clock: new ManualClock(),
      options: { adminToken: ADMIN_TOKEN, workerSecretKey: randomBytes(32).toString('hex') },
    })
  })

  after(async () => {
    trap.release()
    await h?.close()
  })

  afterEach(() => expect(trap.errors.map(String)).to.deep.equal([]))

  const id = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.stringMatching(/^[0-9a-f]{32}$/),
    fc.stringMatching(/^[0-9a-f]{64}$/),
    fc.constantFrom('__proto__', 'constructor', '%00', '..', '%2e%2e', 'a%2Fb', '%E0%A4%A'),
  )
  const route = fc.oneof(
    fc.constant({ method: 'POST' as const, url: '/api/admin/workers' }),
    id.map((x) => ({ method: 'DELETE' as const, url: `/api/admin/workers/${x}` })),
    id.map((x) => ({ method: 'POST' as const, url: `/api/admin/relays/${x}/release` })),
    id.map((x) => ({ method: 'GET' as const, url: `/api/admin/relays/${x}` })),
    id.map((x) => ({ method: 'DELETE' as const, url: `/api/admin/relays/${x}` })),
    id.map((x) => ({ method: 'POST' as const, url: `/api/admin/relays/${x}/tokens` })),
    id.map((x) => ({ method: 'POST' as const, url: `/api/admin/relays/${x}/tokens/revoke` })),
  )
  const nasty = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString')
  const body = fc.oneof(
    fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'),
    fc
      .record({ name: fc.oneof(fc.constant(''), fc.string({ maxLength: 300 }), fc.jsonValue()) })
      .filter(
        (b) => typeof b.name !== 'string' || b.name.trim() === '' || b.name.trim().length > 64,
      )
      .map((b) => JSON.stringify(b)),
    fc.dictionary(nasty, fc.jsonValue()).map((b) => JSON.stringify(b)),
    fc.string({ maxLength: 100 }),
    fc.constantFrom('{', '[', '{"name":', '\u0000', '{"__proto__":{"x":1}}', '{"name":"a"}x'),
  )
  const contentType = fc.constantFrom('application/json', 'text/plain', '')

  it('answers every request with a 4xx and a code (never a 500) and creates no account', async () => {
    const before = await call(h, { method: 'GET', url: '/api/admin/workers', headers: AUTH })
    expect(before.status).to.equal(200)
    await fc.assert(
      fc.asyncProperty(route, body, contentType, async ({ method, url }, text, type) => {
        const answer = await call(h, {
          method,
          url,
          payload: text,
          headers: type === '' ? AUTH : { ...AUTH, 'content-type': type },
        })
        // A body the schema accepts (a valid name) is the only way to a 201: none is generated.
        expect(
          answer.status,
          `${method} ${url} ${text} ${JSON.stringify(answer.body)}`,
        ).to.be.within(400, 499)
        expect(answer.body.code).to.be.a('string')
        expect(({} as Record<string, unknown>).x, 'prototype polluted').to.equal(undefined)
      }),
      fuzzBudget(),
    )
    const after = await call(h, { method: 'GET', url: '/api/admin/workers', headers: AUTH })
    expect(after.body.workers).to.deep.equal([])
  })
})

import { randomBytes } from 'node:crypto'
import { expect } from 'chai'
import { verifyClientToken } from '../../shared/auth/client-token.js'
import { signLegacyDelete } from '../../shared/auth/registration-signature.js'
import { WORKER_ID_PATTERN, WORKER_SECRET_PATTERN } from '../../shared/auth/worker-credentials.js'
import { ErrorCode } from '../../shared/errors.js'
import { SignedAction } from '../../shared/registrar-api/signed-request.js'
import {
  SECRET,
  hexKey,
  makeRegistration,
  registrationBody,
  signedHeaders,
  tokenBody,
} from '../helpers/registrar-harness.js'
import type { RegistrarHarness } from '../helpers/registrar-harness.js'
import {
  call,
  expectRefused,
  forEachStore,
  metric,
  register,
  relayUrl,
} from '../helpers/registrar-suite.js'
import type { Answer } from '../helpers/registrar-suite.js'
import { thrown } from '../helpers/thrown.js'

const ADMIN_TOKEN = 'admin-token-for-tenancy-tests-0123456789'
const AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` }
const KEY = randomBytes(32).toString('hex')

/** A worker account as the admin API handed it out. */
interface Account {
  workerId: string
  secret: string
}

async function createAccount(h: RegistrarHarness, name: string): Promise<Account> {
  const answer = await call(h, {
    method: 'POST',
    url: '/api/admin/workers',
    headers: AUTH,
    payload: { name },
  })
  expect(answer.status, JSON.stringify(answer.body)).to.equal(201)
  return { workerId: answer.body.workerId as string, secret: answer.body.secret as string }
}

/** `POST /api/relays` of `fields` signed by `who` (an account, or the shared secret). */
function registerAs(
  h: RegistrarHarness,
  who: Account | 'shared',
  fields: Record<string, unknown>,
): Promise<Answer> {
  const registration = makeRegistration(h.clock, {
    ...fields,
    ...(who === 'shared' ? {} : { workerId: who.workerId }),
  })
  return register(h, registrationBody(registration, who === 'shared' ? SECRET : who.secret))
}

function tokenAs(h: RegistrarHarness, who: Account | 'shared', relayKey: string, suffix = '') {
  const action = suffix === '/revoke' ? SignedAction.TOKEN_REVOKE : SignedAction.TOKEN_ISSUE
  const payload =
    who === 'shared'
      ? tokenBody(action, relayKey, h.clock)
      : tokenBody(action, relayKey, h.clock, { workerId: who.workerId }, who.secret)
  return call(h, { method: 'POST', url: relayUrl(relayKey, `/tokens${suffix}`), payload })
}

function deleteAs(h: RegistrarHarness, who: Account | 'shared', relayKey: string) {
  const headers =
    who === 'shared'
      ? signedHeaders('delete', relayKey, h.clock)
      : signedHeaders('delete', relayKey, h.clock, { secret: who.secret, workerId: who.workerId })
  return call(h, { method: 'DELETE', url: relayUrl(relayKey), headers })
}

function getAs(h: RegistrarHarness, who: Account | 'shared', relayKey: string) {
  const headers =
    who === 'shared'
      ? signedHeaders('get', relayKey, h.clock)
      : signedHeaders('get', relayKey, h.clock, { secret: who.secret, workerId: who.workerId })
  return call(h, { method: 'GET', url: relayUrl(relayKey), headers })
}

forEachStore('registrar tenancy (worker accounts, relay ownership)', (s) => {
  const start = (options = {}) =>
    s.start({ adminToken: ADMIN_TOKEN, workerSecretKey: KEY, ...options })

  describe('worker accounts in the admin API', () => {
    it('creates an account: 201 with the secret once; stored sealed, never listed', async () => {
      const h = start()
      const answer = await call(h, {
        method: 'POST',
        url: '/api/admin/workers',
        headers: AUTH,
        payload: { name: 'alice' },
      })
      expect(answer.status).to.equal(201)
      const { workerId, secret } = answer.body as { workerId: string; secret: string }
      expect(workerId).to.match(WORKER_ID_PATTERN)
      expect(secret).to.match(WORKER_SECRET_PATTERN)
      const stored = await h.store.getWorker(workerId)
      expect(stored?.sealedSecret).to.be.a('string').and.not.contain(secret)
      const list = await call(h, { url: '/api/admin/workers', headers: AUTH })
      expect(list.status).to.equal(200)
      expect(list.body.workers).to.deep.equal([
        {
          workerId,
          name: 'alice',
          status: 'active',
          createdAt: stored?.createdAt,
          disabledAt: null,
          relays: [],
        },
      ])
      expect(JSON.stringify(list.body)).not.to.contain(secret)
      expect(JSON.stringify(list.body)).not.to.contain(stored?.sealedSecret)
      expect(h.sink.text()).not.to.contain(secret)
      const audit = h.sink.lines().filter((l) => l.audit === 'admin')
      expect(audit.map((l) => l.statusCode)).to.deep.equal([201, 200])
    })

    it('refuses bad names, unknown ids, calls without the admin token', async () => {
      const h = start()
      for (const payload of [{}, { name: '' }, { name: 'x'.repeat(65) }, { name: 'a\nb' }, 7]) {
        const answer = await call(h, {
          method: 'POST',
          url: '/api/admin/workers',
          headers: AUTH,
          payload: payload as Record<string, unknown>,
        })
        expectRefused(answer, 400, 'invalid_body')
      }
      for (const id of ['0'.repeat(32), 'nope']) {
        const answer = await call(h, {
          method: 'DELETE',
          url: `/api/admin/workers/${id}`,
          headers: AUTH,
        })
        expectRefused(answer, 404, 'worker_unknown')
      }
      const anonymous = await call(h, {
        method: 'POST',
        url: '/api/admin/workers',
        payload: { name: 'x' },
      })
      expectRefused(anonymous, 401, 'admin_unauthorized')
      expect(await h.store.listWorkers()).to.deep.equal([])
    })

    it('answers 503 not_configured without GATEWAY_WORKER_SECRET_KEY', async () => {
      const h = start({ workerSecretKey: '' })
      const answer = await call(h, {
        method: 'POST',
        url: '/api/admin/workers',
        headers: AUTH,
        payload: { name: 'x' },
      })
      expectRefused(answer, 503, 'not_configured')
      const signed = await registerAs(h, { workerId: 'a'.repeat(32), secret: 'b'.repeat(64) }, {})
      expectRefused(signed, 503, 'not_configured')
    })

    it('answers 503 worker_secret_unreadable when the account key changed: counted, logged once, no secret', async () => {
      const h = start()
      const a = await createAccount(h, 'alice')
      const relayKey = hexKey()
      expect((await registerAs(h, a, { relayKey })).status).to.equal(200)
      // The same store under another account key (changed or mistyped): the sealed secret no
      // longer opens. Not the worker's fault, so neither 401 nor a bare 500.
      const other = s.start(
        { adminToken: ADMIN_TOKEN, workerSecretKey: '7'.repeat(64) },
        { store: h.store },
      )
      expectRefused(await registerAs(other, a, { relayKey }), 503, 'worker_secret_unreadable')
      expectRefused(await tokenAs(other, a, relayKey), 503, 'worker_secret_unreadable')
      const minted = await call(other, {
        method: 'POST',
        url: `/api/admin/relays/${relayKey}/tokens`,
        headers: AUTH,
        payload: {},
      })
      expectRefused(minted, 503, 'worker_secret_unreadable')
      const counter = other.registry.getSingleMetric(metric('worker_secrets_unreadable_total'))
      expect((await counter?.get())?.values.map((v) => v.value)).to.deep.equal([3])
      const lines = other.sink.lines()
      const alarms = lines.filter((l) => l.code === 'worker_secret_unreadable' && l.workerId)
      expect(alarms.map((l) => l.workerId)).to.deep.equal([a.workerId, a.workerId, a.workerId])
      expect(lines.filter((l) => l.msg === 'request failed')).to.deep.equal([])
      const sealed = (await h.store.getWorker(a.workerId))?.sealedSecret as string
      expect(other.sink.text()).not.to.contain(a.secret).and.not.to.contain(sealed)
      // The registrar with the right key still serves the account.
      expect((await tokenAs(h, a, relayKey)).status).to.equal(200)
    })

    it('refuses to start in multi-tenant mode without an account key', () => {
      const err = thrown(() => s.start({ multiTenant: true }))
      expect((err as { code?: string }).code).to.equal(ErrorCode.CONFIG_INVALID)
    })
  })

  describe('registrations signed per worker', () => {
    it('accepts a registration signed with the account secret and records the owner', async () => {
      const h = start()
      const a = await createAccount(h, 'alice')
      const relayKey = hexKey()
      const answer = await registerAs(h, a, { relayKey })
      expect(answer.status, JSON.stringify(answer.body)).to.equal(200)
      expect(answer.body.status).to.equal('ok')
      expect((await h.store.getRegistration(relayKey))?.workerId).to.equal(a.workerId)
      expect((await h.store.getRelayOwner(relayKey))?.workerId).to.equal(a.workerId)
      const list = await call(h, { url: '/api/admin/workers', headers: AUTH })
      expect((list.body.workers as Array<{ relays: string[] }>)[0]?.relays).to.deep.equal([
        relayKey,
      ])
      const relays = await call(h, { url: '/api/admin/relays', headers: AUTH })
      expect((relays.body.relays as Array<Record<string, unknown>>)[0]).to.include({
        relayKey,
        workerId: a.workerId,
      })
    })

    it('refuses a wrong secret, another account’s id, an unknown id and a malformed one', async () => {
      const h = start()
      const a = await createAccount(h, 'alice')
      const b = await createAccount(h, 'bob')
      expectRefused(await registerAs(h, { ...a, secret: b.secret }, {}), 401, 'signature_invalid')
      expectRefused(await registerAs(h, { ...a, secret: SECRET }, {}), 401, 'signature_invalid')
      const unknown = { workerId: '1'.repeat(32), secret: a.secret }
      expectRefused(await registerAs(h, unknown, {}), 401, 'worker_unknown')
      expectRefused(
        await registerAs(h, { ...a, workerId: 'A'.repeat(32) }, {}),
        400,
        'invalid_body',
      )
      expect(await h.store.listRegistrations()).to.deep.equal([])
    })

    it('keeps the nonce, issuedAt and replay rules for accounts', async () => {
      const h = start()
      const a = await createAccount(h, 'alice')
      const registration = makeRegistration(h.clock, { workerId: a.workerId })
      const body = registrationBody(registration, a.secret)
      expect((await register(h, body)).status).to.equal(200)
      expectRefused(await register(h, body), 409, 'replayed_nonce')
      const stale = makeRegistration(h.clock, {
        workerId: a.workerId,
        issuedAt: h.clock.now() - 301_000,
      })
      expectRefused(await register(h, registrationBody(stale, a.secret)), 401, 'stale_registration')
    })
  })

  describe('relays belong to their first registrant', () => {
    it('acceptance: B and the shared secret get 403 relay_owned for R and its alias', async () => {
      const h = start()
      const a = await createAccount(h, 'alice')
      const b = await createAccount(h, 'bob')
      const relayKey = hexKey()
      const gatewayPath = `alice-${randomBytes(3).toString('hex')}`
      const meta = { metadata: { name: 'R', gatewayPath } }
      expect((await registerAs(h, a, { relayKey, ...meta })).status).to.equal(200)
      for (const who of [b, 'shared'] as const) {
        expectRefused(await registerAs(h, who, { relayKey }), 403, 'relay_owned')
        expectRefused(await registerAs(h, who, { relayKey: hexKey(), ...meta }), 403, 'relay_owned')
        expectRefused(await tokenAs(h, who, relayKey), 403, 'relay_owned')
        expectRefused(await tokenAs(h, who, relayKey, '/revoke'), 403, 'relay_owned')
        expectRefused(await deleteAs(h, who, relayKey), 403, 'relay_owned')
        expectRefused(await getAs(h, who, relayKey), 403, 'relay_owned')
      }
      const legacy = await call(h, {
        method: 'DELETE',
        url: relayUrl(relayKey),
        headers: { 'x-signature': signLegacyDelete(SECRET, relayKey) },
      })
      expectRefused(legacy, 403, 'relay_owned')
      // Nothing moved: R is still A's, with A's peers.
      const registration = await h.store.resolveRelay(gatewayPath)
      expect(registration).to.include({ relayKey, workerId: a.workerId })
      // A renews, reads and mints; A's tokens verify with A's secret only.
      expect((await registerAs(h, a, { relayKey, ...meta })).status).to.equal(200)
      const read = await getAs(h, a, relayKey)
      expect(read.status).to.equal(200)
      expect((read.body.registration as { workerId?: string }).workerId).to.equal(a.workerId)
      const issued = await tokenAs(h, a, relayKey)
      expect(issued.status, JSON.stringify(issued.body)).to.equal(200)
      const token = issued.body.token as string
      expect(verifyClientToken(a.secret, token, { relayKey, now: h.clock.now() }).ok).to.equal(true)
      expect(verifyClientToken(SECRET, token, { relayKey }).ok).to.equal(false)
      expect(verifyClientToken(b.secret, token, { relayKey }).ok).to.equal(false)
    })

    it('lets no account take a relay live under the shared secret (the legacy flow keeps it)', async () => {
      const h = start()
      const a = await createAccount(h, 'alice')
      const legacy = await s.registered(h)
      expectRefused(await registerAs(h, a, { relayKey: legacy.relayKey }), 403, 'relay_owned')
      expectRefused(await tokenAs(h, a, legacy.relayKey), 403, 'relay_owned')
      expect((await registerAs(h, 'shared', { relayKey: legacy.relayKey })).status).to.equal(200)
      expect((await tokenAs(h, 'shared', legacy.relayKey)).status).to.equal(200)
      expect((await h.store.getRegistration(legacy.relayKey))?.workerId).to.equal(undefined)
    })

    it('the owner’s delete releases R: then another account may claim it', async () => {
      const h = start()
      const a = await createAccount(h, 'alice')
      const b = await createAccount(h, 'bob')
      const relayKey = hexKey()
      expect((await registerAs(h, a, { relayKey })).status).to.equal(200)
      const removed = await deleteAs(h, a, relayKey)
      expect(removed.status, JSON.stringify(removed.body)).to.equal(200)
      expect(await h.store.getRelayOwner(relayKey)).to.equal(null)
      expect((await registerAs(h, b, { relayKey })).status).to.equal(200)
      expect((await h.store.getRelayOwner(relayKey))?.workerId).to.equal(b.workerId)
    })

    it('mints admin tokens of an owned relay with its owner’s secret', async () => {
      const h = start()
      const a = await createAccount(h, 'alice')
      const relayKey = hexKey()
      expect((await registerAs(h, a, { relayKey })).status).to.equal(200)
      const answer = await call(h, {
        method: 'POST',
        url: `/api/admin/relays/${relayKey}/tokens`,
        headers: AUTH,
        payload: {},
      })
      expect(answer.status).to.equal(200)
      const token = answer.body.token as string
      expect(verifyClientToken(a.secret, token, { relayKey, now: h.clock.now() }).ok).to.equal(true)
      expect(verifyClientToken(SECRET, token, { relayKey }).ok).to.equal(false)
    })
  })

  describe('disabling an account and releasing its relays', () => {
    it('DELETE /api/admin/workers/:id: its relays stop resolving, it can sign nothing', async () => {
      const h = start()
      const a = await createAccount(h, 'alice')
      const b = await createAccount(h, 'bob')
      const [r1, r2] = [hexKey(), hexKey()]
      const gatewayPath = `dis-${randomBytes(3).toString('hex')}`
      expect((await registerAs(h, a, { relayKey: r1, metadata: { gatewayPath } })).status).to.equal(
        200,
      )
      expect((await registerAs(h, a, { relayKey: r2 })).status).to.equal(200)
      const bRelay = hexKey()
      expect((await registerAs(h, b, { relayKey: bRelay })).status).to.equal(200)
      const answer = await call(h, {
        method: 'DELETE',
        url: `/api/admin/workers/${a.workerId}`,
        headers: AUTH,
      })
      expect(answer.status).to.equal(200)
      expect(answer.body.removed).to.have.members([r1, r2])
      expect(answer.body.disabledAt).to.equal(h.clock.now())
      expect(await h.store.resolveRelay(r1)).to.equal(null)
      expect(await h.store.resolveRelay(gatewayPath)).to.equal(null)
      expect(await h.store.resolveRelay(r2)).to.equal(null)
      expect(await h.store.resolveRelay(bRelay)).not.to.equal(null)
      expectRefused(await registerAs(h, a, { relayKey: r1 }), 403, 'worker_disabled')
      expectRefused(await tokenAs(h, a, r1), 403, 'worker_disabled')
      expectRefused(await deleteAs(h, a, r1), 403, 'worker_disabled')
      // Its relays stay reserved to it until an admin releases them.
      expectRefused(await registerAs(h, b, { relayKey: r1 }), 403, 'relay_owned')
      expectRefused(await registerAs(h, 'shared', { relayKey: r2 }), 403, 'relay_owned')
      const list = await call(h, { url: '/api/admin/workers', headers: AUTH })
      const view = (list.body.workers as Array<Record<string, unknown>>).find(
        (w) => w.workerId === a.workerId,
      )
      expect(view).to.include({ status: 'disabled', disabledAt: h.clock.now() })
      // Disabling again changes nothing.
      const again = await call(h, {
        method: 'DELETE',
        url: `/api/admin/workers/${a.workerId}`,
        headers: AUTH,
      })
      expect(again.status).to.equal(200)
      expect(again.body.removed).to.deep.equal([])
    })

    it('POST /api/admin/relays/:key/release frees an owned relay for the next registrant', async () => {
      const h = start()
      const a = await createAccount(h, 'alice')
      const b = await createAccount(h, 'bob')
      const relayKey = hexKey()
      const gatewayPath = `rel-${randomBytes(3).toString('hex')}`
      const meta = { metadata: { gatewayPath } }
      expect((await registerAs(h, a, { relayKey, ...meta })).status).to.equal(200)
      const release = (id: string) =>
        call(h, { method: 'POST', url: `/api/admin/relays/${id}/release`, headers: AUTH })
      const answer = await release(gatewayPath)
      expect(answer.body).to.deep.equal({ status: 'ok', relayKey, workerId: a.workerId })
      expect(await h.store.getRegistration(relayKey)).to.equal(null)
      expectRefused(await release(relayKey), 404, 'relay_not_found')
      expect((await registerAs(h, b, { relayKey, ...meta })).status).to.equal(200)
      expect((await h.store.resolveRelay(gatewayPath))?.workerId).to.equal(b.workerId)
      const unauthenticated = await call(h, {
        method: 'POST',
        url: `/api/admin/relays/${relayKey}/release`,
      })
      expectRefused(unauthenticated, 401, 'admin_unauthorized')
    })
  })

  describe('multi-tenant mode (GATEWAY_MULTI_TENANT)', () => {
    it('refuses the shared secret everywhere, accounts work', async () => {
      const h = start({ multiTenant: true })
      const a = await createAccount(h, 'alice')
      const relayKey = hexKey()
      expectRefused(await registerAs(h, 'shared', { relayKey }), 401, 'shared_secret_disabled')
      expectRefused(await tokenAs(h, 'shared', relayKey), 401, 'shared_secret_disabled')
      expectRefused(await deleteAs(h, 'shared', relayKey), 401, 'shared_secret_disabled')
      expectRefused(await getAs(h, 'shared', relayKey), 401, 'shared_secret_disabled')
      const legacy = await call(h, {
        method: 'DELETE',
        url: relayUrl(relayKey),
        headers: { 'x-signature': signLegacyDelete(SECRET, relayKey) },
      })
      expectRefused(legacy, 401, 'shared_secret_disabled')
      expect((await registerAs(h, a, { relayKey })).status).to.equal(200)
      expect((await tokenAs(h, a, relayKey)).status).to.equal(200)
    })

    it('needs no shared secret at all', async () => {
      const h = start({ multiTenant: true, secret: '' })
      const a = await createAccount(h, 'alice')
      expect((await registerAs(h, a, { relayKey: hexKey() })).status).to.equal(200)
    })
  })
})

import { expect } from 'chai'
import { verifyClientToken } from '../../shared/auth/client-token.js'
import { ErrorCode } from '../../shared/errors.js'
import { PUBLIC_URL_HEADER } from '../../shared/registrar-api/registrar-capabilities.js'
import type { ProxyReport } from '../../shared/store/gateway-store.js'
import { SECRET, hexKey, makeRegistration, registrationBody } from '../helpers/registrar-harness.js'
import type { RegistrarHarness } from '../helpers/registrar-harness.js'
import { call, expectRefused, forEachStore } from '../helpers/registrar-suite.js'
import { thrown } from '../helpers/thrown.js'
import { waitUntil } from '../helpers/wait-until.js'

const ADMIN_TOKEN = 'admin-token-for-tests-0123456789abcdef'
const AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` }

function report(fields: Partial<ProxyReport> & { proxyId: string }): ProxyReport {
  return { reportedAt: Date.now(), sessions: 0, relays: {}, peers: {}, ...fields }
}

function auditLines(h: RegistrarHarness) {
  return h.sink.lines().filter((l) => l.audit === 'admin')
}

forEachStore('registrar admin API', (s) => {
  const start = () => s.start({ adminToken: ADMIN_TOKEN })

  it('is off when no admin token is configured (404, as any unknown route)', async () => {
    const h = s.start()
    expectRefused(await call(h, { url: '/api/admin/relays', headers: AUTH }), 404, 'not_found')
  })

  it('refuses a call without the admin token, with a wrong one, or with the worker secret', async () => {
    const h = start()
    for (const headers of [
      {},
      { authorization: `Bearer ${ADMIN_TOKEN}x` },
      { authorization: `Bearer ${SECRET}` },
      { authorization: ADMIN_TOKEN },
      { 'x-signature': ADMIN_TOKEN },
    ]) {
      const answer = await call(h, { url: '/api/admin/relays', headers })
      expectRefused(answer, 401, 'admin_unauthorized')
    }
    const lines = auditLines(h)
    expect(lines).to.have.length(5)
    expect(lines.every((l) => l.decision === 'rejected' && l.statusCode === 401)).to.equal(true)
    expect(h.sink.text()).not.to.contain(ADMIN_TOKEN)
  })

  it('asks for the token before saying an admin path does not exist', async () => {
    const h = start()
    expectRefused(await call(h, { url: '/api/admin/nope' }), 401, 'admin_unauthorized')
    expectRefused(await call(h, { url: '/api/admin/nope', headers: AUTH }), 404, 'not_found')
    expect(auditLines(h).map((l) => l.statusCode)).to.deep.equal([401, 404])
  })

  it('accepts the Bearer scheme in any case', async () => {
    const h = start()
    const answer = await call(h, {
      url: '/api/admin/status',
      headers: { authorization: `bEARer ${ADMIN_TOKEN}` },
    })
    expect(answer.status).to.equal(200)
  })

  it('refuses to start with a short admin token or the worker secret as admin token', () => {
    for (const adminToken of ['short', 'y'.repeat(31)]) {
      const err = thrown(() => s.start({ adminToken }))
      expect((err as { code?: string }).code).to.equal(ErrorCode.CONFIG_INVALID)
    }
    const long = 'x'.repeat(40)
    const err = thrown(() => s.start({ adminToken: long, secret: long }))
    expect((err as { code?: string }).code).to.equal(ErrorCode.CONFIG_INVALID)
  })

  it('lists relays in pages, shows one with peer states and sessions from the proxy reports', async () => {
    const h = start()
    const keys: string[] = []
    for (let i = 0; i < 5; i++) keys.push((await s.registered(h)).relayKey)
    keys.sort()
    const target = (await h.store.getRegistration(keys[2] as string))!
    const peer = target.peers[0] as string
    await h.store.putProxyReport(
      report({
        proxyId: 'a'.repeat(64),
        sessions: 3,
        relays: { [target.relayKey]: 2 },
        peers: { [peer]: { state: 'ready', sessions: 2, latencyMs: 4 } },
      }),
      30,
    )
    await h.store.putProxyReport(
      report({
        proxyId: 'b'.repeat(64),
        sessions: 1,
        relays: { [target.relayKey]: 1 },
        peers: { [peer]: { state: 'unhealthy', sessions: 1, latencyMs: null } },
      }),
      30,
    )
    await h.store.addUsage(`relay:${target.relayKey}`, { messages: 7, bytes: 700 })

    const first = await call(h, { url: '/api/admin/relays?limit=2', headers: AUTH })
    expect(first.status).to.equal(200)
    expect(first.body.total).to.equal(5)
    const page1 = first.body.relays as Array<{ relayKey: string }>
    expect(page1.map((r) => r.relayKey)).to.deep.equal(keys.slice(0, 2))
    const second = await call(h, {
      url: `/api/admin/relays?limit=2&cursor=${String(first.body.nextCursor)}`,
      headers: AUTH,
    })
    const page2 = second.body.relays as Array<Record<string, unknown>>
    expect(page2.map((r) => r.relayKey)).to.deep.equal(keys.slice(2, 4))
    expect(page2[0]).to.include({ sessions: 3, peers: 1, readyPeers: 1 })
    const third = await call(h, {
      url: `/api/admin/relays?limit=2&cursor=${String(second.body.nextCursor)}`,
      headers: AUTH,
    })
    expect((third.body.relays as unknown[]).length).to.equal(1)
    expect(third.body.nextCursor).to.equal(null)
    expectRefused(
      await call(h, { url: '/api/admin/relays?limit=0', headers: AUTH }),
      400,
      'invalid_body',
    )

    const shown = await call(h, { url: `/api/admin/relays/${target.relayKey}`, headers: AUTH })
    expect(shown.status).to.equal(200)
    expect((shown.body.registration as { relayKey: string }).relayKey).to.equal(target.relayKey)
    expect(shown.body.ttlMs).to.be.a('number')
    const peers = shown.body.peers as Array<{
      key: string
      reachable: boolean
      proxies: Array<{ proxyId: string; state: string }>
    }>
    expect(peers).to.have.length(1)
    expect(peers[0]?.key).to.equal(peer)
    expect(peers[0]?.reachable).to.equal(true)
    expect(peers[0]?.proxies.map((p) => p.state).sort()).to.deep.equal(['ready', 'unhealthy'])
    expect(shown.body.sessions).to.deep.equal({
      total: 3,
      byProxy: { ['a'.repeat(64)]: 2, ['b'.repeat(64)]: 1 },
    })
    expect(shown.body.usage).to.deep.equal({ messages: 7, bytes: 700 })

    const status = await call(h, { url: '/api/admin/status', headers: AUTH })
    expect(status.body).to.include({ relays: 5, sessions: 4 })
    expect((status.body.proxies as unknown[]).length).to.equal(2)
    const sessions = await call(h, { url: '/api/admin/sessions', headers: AUTH })
    expect(sessions.body).to.deep.equal({
      status: 'ok',
      total: 4,
      relays: { [target.relayKey]: 3 },
    })

    expectRefused(
      await call(h, { url: `/api/admin/relays/${hexKey()}`, headers: AUTH }),
      404,
      'relay_not_found',
    )
  })

  it('issues and revokes tokens and removes a relay, with an audit line each, no token in it', async () => {
    const h = start()
    const { relayKey } = await s.registered(h)
    const issued = await call(h, {
      method: 'POST',
      url: `/api/admin/relays/${relayKey}/tokens`,
      headers: AUTH,
      payload: { ttl: 600 },
    })
    expect(issued.status).to.equal(200)
    const token = issued.body.token as string
    const verdict = verifyClientToken(SECRET, token, { relayKey, now: s.clock.now() })
    expect(verdict.ok).to.equal(true)
    expect(issued.body.expiresAt).to.equal((issued.body.issuedAt as number) + 600_000)
    expectRefused(
      await call(h, {
        method: 'POST',
        url: `/api/admin/relays/${relayKey}/tokens`,
        headers: AUTH,
        payload: { ttl: 10 ** 9 },
      }),
      400,
      'ttl_too_long',
    )

    const revoked = await call(h, {
      method: 'POST',
      url: `/api/admin/relays/${relayKey}/tokens/revoke`,
      headers: AUTH,
    })
    expect(revoked.status).to.equal(200)
    expect(revoked.body.minSeq).to.equal((issued.body.seq as number) + 1)

    const removed = await call(h, {
      method: 'DELETE',
      url: `/api/admin/relays/${relayKey}`,
      headers: AUTH,
    })
    expect(removed.body).to.deep.include({ relayKey, removed: true })
    expect(await h.store.getRegistration(relayKey)).to.equal(null)
    expectRefused(
      await call(h, { method: 'DELETE', url: `/api/admin/relays/${relayKey}`, headers: AUTH }),
      404,
      'relay_not_found',
    )

    const lines = auditLines(h)
    expect(
      lines.map((l) => `${String(l.method)} ${String(l.route)} ${String(l.statusCode)}`),
    ).to.deep.equal([
      'POST /api/admin/relays/:relayKey/tokens 200',
      'POST /api/admin/relays/:relayKey/tokens 400',
      'POST /api/admin/relays/:relayKey/tokens/revoke 200',
      'DELETE /api/admin/relays/:relayKey 200',
      'DELETE /api/admin/relays/:relayKey 404',
    ])
    expect(lines.every((l) => l.relayKey === relayKey && l.ip === '127.0.0.1')).to.equal(true)
    const text = h.sink.text()
    expect(text).not.to.contain(token)
    expect(text).not.to.contain(token.split('.')[1] as string)
    expect(text).not.to.contain(ADMIN_TOKEN)
  })

  it('keeps proxy reports only for their TTL, and refuses malformed ones', async () => {
    const h = start()
    await h.store.putProxyReport(report({ proxyId: 'c'.repeat(64) }), 0.2)
    expect((await h.store.listProxyReports()).map((r) => r.proxyId)).to.deep.equal(['c'.repeat(64)])
    if (s.kind.followsClock) s.clock.advance(300)
    await waitUntil(async () => (await h.store.listProxyReports()).length === 0, {
      timeoutMs: 5_000,
      what: 'proxy report expiry',
    })
    const bad = { ...report({ proxyId: 'd' }), sessions: 1.5 }
    let refused = false
    await h.store.putProxyReport(bad, 30).catch(() => (refused = true))
    expect(refused).to.equal(true)
  })

  it('reports the public URL on registration answers (configured, else from the request)', async () => {
    const configured = s.start({ publicUrl: 'https://gw.example.com/' })
    const one = await call(configured, {
      method: 'POST',
      url: '/api/relays',
      payload: registrationBody(makeRegistration(s.clock)),
    })
    expect(one.headers[PUBLIC_URL_HEADER]).to.equal('https://gw.example.com')
    const derived = s.start()
    const two = await call(derived, {
      method: 'POST',
      url: '/api/relays',
      headers: { host: 'gw.example.org', 'x-forwarded-proto': 'https' },
      payload: registrationBody(makeRegistration(s.clock)),
    })
    expect(two.headers[PUBLIC_URL_HEADER]).to.equal('https://gw.example.org')
  })
})

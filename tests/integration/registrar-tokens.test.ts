import { expect } from 'chai'
import { issueClientToken, verifyClientToken } from '../../shared/auth/client-token.js'
import { SignedAction } from '../../shared/registrar-api/signed-request.js'
import { isTokenRevoked } from '../../shared/store/gateway-store.js'
import type { StoreChange } from '../../shared/store/gateway-store.js'
import type { ManualClock } from '../helpers/registrar-harness.js'
import { SECRET, hexKey, metricValue, tokenBody } from '../helpers/registrar-harness.js'
import { call, expectRefused, forEachStore, metric, relayUrl } from '../helpers/registrar-suite.js'
import { vectors } from '../helpers/vectors.js'

forEachStore('registrar token routes', (s) => {
  let clock: ManualClock
  beforeEach(() => {
    clock = s.clock
  })
  const start = s.start
  const registered = s.registered

  it('issues, refreshes and revokes tokens the proxy can check', async () => {
    const h = start()
    const { relayKey } = await registered(h)
    const tokens = relayUrl(relayKey, '/tokens')

    const issued = await call(h, {
      method: 'POST',
      url: tokens,
      payload: tokenBody(SignedAction.TOKEN_ISSUE, relayKey, clock, { ttl: 600 }),
    })
    expect(issued.status, JSON.stringify(issued.body)).to.equal(200)
    expect(issued.body.seq).to.equal(1)
    expect(issued.body.expiresAt).to.equal(clock.now() + 600_000)
    const first = verifyClientToken(SECRET, issued.body.token, { relayKey, now: clock.now() })
    expect(first.ok).to.equal(true)
    expect(first.payload?.seq).to.equal(1)

    clock.advance(1_000)
    const refreshed = await call(h, {
      method: 'POST',
      url: `${tokens}/refresh`,
      payload: tokenBody(SignedAction.TOKEN_REFRESH, relayKey, clock, {
        token: issued.body.token,
      }),
    })
    expect(refreshed.status, JSON.stringify(refreshed.body)).to.equal(200)
    expect(refreshed.body.seq).to.equal(2)
    // Keeps the old token's lifetime, counted from now.
    expect(refreshed.body.expiresAt).to.equal(clock.now() + 600_000)

    // A token a legacy worker minted itself, before the revocation.
    const local = issueClientToken(SECRET, { relayKey, now: clock.now(), ttlMs: 60_000 })
    clock.advance(1_000)
    const revoked = await call(h, {
      method: 'POST',
      url: `${tokens}/revoke`,
      payload: tokenBody(SignedAction.TOKEN_REVOKE, relayKey, clock),
    })
    expect(revoked.status, JSON.stringify(revoked.body)).to.equal(200)
    expect(revoked.body.minSeq).to.equal(3)
    const state = await h.store.getTokenState(relayKey)
    for (const token of [issued.body.token, refreshed.body.token, local]) {
      const check = verifyClientToken(SECRET, token, { relayKey, now: clock.now() })
      expect(check.ok).to.equal(true)
      expect(isTokenRevoked(state, check.payload ?? {})).to.equal(true)
    }
    expectRefused(
      await call(h, {
        method: 'POST',
        url: `${tokens}/refresh`,
        payload: tokenBody(SignedAction.TOKEN_REFRESH, relayKey, clock, {
          token: refreshed.body.token,
        }),
      }),
      403,
      'token_revoked',
    )
    const fresh = await call(h, {
      method: 'POST',
      url: tokens,
      payload: tokenBody(SignedAction.TOKEN_ISSUE, relayKey, clock),
    })
    expect(fresh.status).to.equal(200)
    const freshCheck = verifyClientToken(SECRET, fresh.body.token, { now: clock.now() })
    expect(isTokenRevoked(state, freshCheck.payload ?? {})).to.equal(false)
    expect(fresh.body.expiresAt).to.equal(clock.now() + 3_600_000)
    expect(
      await metricValue(h.registry, metric('token_operations_total'), {
        kind: 'issue',
        outcome: 'ok',
      }),
    ).to.equal(2)
  })

  it('refreshes a legacy worker token until it expires or is revoked', async () => {
    const h = start()
    const relayKey = (vectors.tokens[0]?.payload.relayKey ?? '') as string
    await registered(h, { relayKey })
    const legacyToken = vectors.tokens[0]?.token ?? ''
    const refresh = () =>
      call(h, {
        method: 'POST',
        url: relayUrl(relayKey, '/tokens/refresh'),
        payload: tokenBody(SignedAction.TOKEN_REFRESH, relayKey, clock, { token: legacyToken }),
      })
    const ok = await refresh()
    expect(ok.status, JSON.stringify(ok.body)).to.equal(200)
    expect(ok.body.expiresAt).to.equal(clock.now() + 3_600_000)
    const otherRelay = vectors.tokens[1]?.token ?? ''
    expectRefused(
      await call(h, {
        method: 'POST',
        url: relayUrl(relayKey, '/tokens/refresh'),
        payload: tokenBody(SignedAction.TOKEN_REFRESH, relayKey, clock, { token: otherRelay }),
      }),
      403,
      'token_invalid',
    )
    clock.t = 1_764_003_600_000
    // The registration itself has lapsed by now (on MemoryStore, which follows the clock).
    await registered(h, { relayKey })
    expectRefused(await refresh(), 403, 'token_expired')
  })

  it('mints per-user tokens naming a pubkey and a relayAuthToken, kept on refresh', async () => {
    const h = start()
    const { relayKey } = await registered(h)
    const tokens = relayUrl(relayKey, '/tokens')
    const pubkey = 'cd'.repeat(32)
    const person = { pubkey, relayAuthToken: 'worker-credential' }
    const issued = await call(h, {
      method: 'POST',
      url: tokens,
      payload: tokenBody(SignedAction.TOKEN_ISSUE, relayKey, clock, person),
    })
    expect(issued.status, JSON.stringify(issued.body)).to.equal(200)
    expect(issued.body.pubkey).to.equal(pubkey)
    const check = verifyClientToken(SECRET, issued.body.token, { relayKey, now: clock.now() })
    expect(check.ok && check.payload).to.deep.include({ ...person, seq: 1 })

    clock.advance(1_000)
    const refreshed = await call(h, {
      method: 'POST',
      url: `${tokens}/refresh`,
      payload: tokenBody(SignedAction.TOKEN_REFRESH, relayKey, clock, {
        token: issued.body.token,
      }),
    })
    expect(refreshed.status, JSON.stringify(refreshed.body)).to.equal(200)
    const again = verifyClientToken(SECRET, refreshed.body.token, { relayKey, now: clock.now() })
    expect(again.ok && again.payload).to.deep.include({ ...person, seq: 2 })

    for (const bad of [
      { pubkey: 'npub1abc' },
      { pubkey: 'CD'.repeat(32) },
      { relayAuthToken: '' },
    ]) {
      expectRefused(
        await call(h, {
          method: 'POST',
          url: tokens,
          payload: tokenBody(SignedAction.TOKEN_ISSUE, relayKey, clock, bad),
        }),
        400,
        'invalid_body',
      )
    }
  })

  it('refuses bad token requests with a code', async () => {
    const h = start()
    const { relayKey } = await registered(h)
    const tokens = relayUrl(relayKey, '/tokens')
    const post = (url: string, payload: Record<string, unknown>) =>
      call(h, { method: 'POST', url, payload })
    expectRefused(
      await post(tokens, tokenBody(SignedAction.TOKEN_ISSUE, relayKey, clock, { ttl: 10 ** 7 })),
      400,
      'ttl_too_long',
    )
    const other = hexKey()
    expectRefused(
      await post(tokens, tokenBody(SignedAction.TOKEN_ISSUE, other, clock)),
      400,
      'invalid_body',
    )
    expectRefused(
      await post(relayUrl(other, '/tokens'), tokenBody(SignedAction.TOKEN_ISSUE, other, clock)),
      404,
      'relay_not_found',
    )
    expectRefused(
      await post(tokens, tokenBody(SignedAction.TOKEN_REVOKE, relayKey, clock)),
      400,
      'invalid_body',
    )
    const forged = tokenBody(
      SignedAction.TOKEN_ISSUE,
      relayKey,
      clock,
      {},
      'another-secret-0123456789',
    )
    expectRefused(await post(tokens, forged), 401, 'signature_invalid')
    const body = tokenBody(SignedAction.TOKEN_ISSUE, relayKey, clock)
    expectRefused(await post(tokens, { ...body, ttl: 60 }), 401, 'signature_invalid')
    expectRefused(await post(tokens, { ...body, extra: 1 }), 400, 'invalid_body')
    expect((await post(tokens, body)).status).to.equal(200)
    expectRefused(await post(tokens, body), 409, 'replayed_nonce')
    clock.advance(301_000)
    expectRefused(await post(tokens, body), 401, 'stale_request')
  })

  it(
    'announces revocations on the change feed' +
      (s.kindName === 'RedisStore' ? ' to a second store instance' : ''),
    async () => {
      const h = start()
      const { relayKey } = await registered(h)
      const observer = s.kind.sibling?.(h.store) ?? h.store
      await observer.ping()
      const seen = new Promise<StoreChange>((resolve) => {
        const off = observer.subscribe((change) => {
          if (change.type === 'tokens-revoked' && change.relayKey === relayKey) {
            off()
            resolve(change)
          }
        })
      })
      const answer = await call(h, {
        method: 'POST',
        url: relayUrl(relayKey, '/tokens/revoke'),
        payload: tokenBody(SignedAction.TOKEN_REVOKE, relayKey, clock),
      })
      expect(answer.status).to.equal(200)
      const change = await seen
      expect(change.type === 'tokens-revoked' && change.state.revokedAt).to.equal(
        answer.body.revokedAt,
      )
      expect((await observer.getTokenState(relayKey)).minSeq).to.equal(answer.body.minSeq)
    },
  )
})

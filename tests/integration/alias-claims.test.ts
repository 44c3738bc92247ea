import { expect } from 'chai'
import { ErrorCode } from '../../shared/errors.js'
import type { Registration } from '../../shared/store/gateway-store.js'
import { hexKey, makeRegistration, registrationBody } from '../helpers/registrar-harness.js'
import { forEachStore, register } from '../helpers/registrar-suite.js'

const exclusive = { exclusiveAlias: true }

function stored(relayKey: string, gatewayPath?: string): Registration {
  const now = Date.now()
  return {
    relayKey,
    peers: [hexKey()],
    metadata: gatewayPath === undefined ? {} : { gatewayPath },
    nonce: null,
    issuedAt: now,
    registeredAt: now,
    expiresAt: now + 60_000,
  }
}

// Issue 9.6: the check-then-write in the route raced; the store now settles the claim itself.
forEachStore('atomic gatewayPath claims', (s) => {
  it('20 concurrent claims of one gatewayPath: exactly one 200, the rest 409', async () => {
    const h = s.start()
    const claims = Array.from({ length: 20 }, () =>
      registrationBody(makeRegistration(s.clock, { metadata: { gatewayPath: 'contested' } })),
    )
    const answers = await Promise.all(claims.map((body) => register(h, body)))
    const statuses = answers.map((a) => a.status).sort()
    expect(statuses.filter((x) => x === 200)).to.have.length(1)
    expect(statuses.filter((x) => x === 409)).to.have.length(19)
    for (const a of answers)
      if (a.status === 409) expect(a.body.code).to.equal('gateway_path_taken')
    const winner = claims[answers.findIndex((a) => a.status === 200)]
    const owner = await h.store.resolveRelay('contested')
    expect(owner?.relayKey).to.equal(winner?.registration.relayKey)
  })

  it('an exclusive put refuses a live alias of another relay with GATEWAY_PATH_TAKEN and writes nothing', async () => {
    const store = s.kind.create(s.clock)
    const [a, b] = [hexKey(), hexKey()]
    await store.putRegistration(stored(a, 'mine'), 60)
    const err = await store.putRegistration(stored(b, 'mine'), 60, exclusive).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect((err as { code?: string }).code).to.equal(ErrorCode.GATEWAY_PATH_TAKEN)
    expect(await store.getRegistration(b)).to.equal(null)
    expect((await store.resolveRelay('mine'))?.relayKey).to.equal(a)
    // The holder renews with its alias; once it moves to another path, the old one is free.
    await store.putRegistration(stored(a, 'mine'), 60, exclusive)
    await store.putRegistration(stored(a, 'elsewhere'), 60, exclusive)
    await store.putRegistration(stored(b, 'mine'), 60, exclusive)
    expect((await store.resolveRelay('mine'))?.relayKey).to.equal(b)
    // Removed holders free their alias too.
    await store.removeRegistration(b)
    await store.putRegistration(stored(a, 'mine'), 60, exclusive)
    expect((await store.resolveRelay('mine'))?.relayKey).to.equal(a)
  })
})

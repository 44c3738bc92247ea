import { expect } from 'chai'
import type { IncomingMessage } from 'node:http'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { issueClientToken } from '../../shared/auth/client-token.js'
import { gatewayConfigSchema } from '../../shared/config/schema.js'
import type { Registration, TokenState } from '../../shared/store/gateway-store.js'
import { ProxyMetrics } from '../../proxy/proxy-metrics.js'
import type { RegistrationCache } from '../../proxy/registration-cache.js'
import { SenderLimits } from '../../proxy/sender-limits.js'
import type { SenderLimitsConfig } from '../../proxy/sender-limits.js'
import { SessionGate } from '../../proxy/session-gate.js'
import type { Admission, SessionGateOptions } from '../../proxy/session-gate.js'

const SECRET = 'session-gate-unit-secret-0123'
const RELAY = 'a'.repeat(64)
const ALICE = 'b'.repeat(64)
const BOB = 'c'.repeat(64)
const NOW = 1_700_000_000_000
const logger = pino({ level: 'silent' })

// The defaults a deployment gets, read from the schema itself.
const proxyDefaults = gatewayConfigSchema.proxy as unknown as Record<string, { default: number }>
const DEFAULTS: SenderLimitsConfig = {
  maxSessionsPerToken: proxyDefaults.maxSessionsPerToken!.default,
  maxSessionsPerIp: proxyDefaults.maxSessionsPerIp!.default,
  maxSessionsPerPubkey: proxyDefaults.maxSessionsPerPubkey!.default,
  sessionOpensPerIpPerMinute: proxyDefaults.sessionOpensPerIpPerMinute!.default,
  pubkeyMessagesPerSecond: proxyDefaults.pubkeyMessagesPerSecond!.default,
  sessionLeaseMs: proxyDefaults.sessionLeaseMs!.default,
}

const registration: Registration = {
  relayKey: RELAY,
  peers: ['d'.repeat(64)],
  metadata: { gatewayPath: 'my-relay' },
  nonce: null,
  issuedAt: NOW,
  registeredAt: NOW,
  expiresAt: NOW + 60_000,
}

// A relay worker account A owns, and the accounts' secrets as the gate sees them.
const OWNED = '9'.repeat(64)
const WORKER_A = 'a'.repeat(32)
const WORKER_B = 'b'.repeat(32)
const SECRET_A = '1'.repeat(64)
const SECRET_B = '2'.repeat(64)
const owned: Registration = { ...registration, relayKey: OWNED, metadata: {}, workerId: WORKER_A }
const accounts = new Map([
  [WORKER_A, SECRET_A],
  [WORKER_B, SECRET_B],
])
const OWNERS = {
  enabled: true,
  secret: (id: string) => Promise.resolve(accounts.get(id) ?? null),
}

interface Harness {
  gate: SessionGate
  limits: SenderLimits
  registry: Registry
  tokenState: TokenState
}

function harness(
  overrides: Partial<SenderLimitsConfig> = {},
  secret = SECRET,
  owners: SessionGateOptions['owners'] | null = OWNERS,
): Harness {
  const registry = new Registry()
  const limits = new SenderLimits({ ...DEFAULTS, ...overrides, logger, registry })
  const h: Harness = {
    registry,
    limits,
    tokenState: { seq: 0, minSeq: 0, revokedAt: 0 },
    gate: undefined as unknown as SessionGate,
  }
  // Only what the gate asks of the cache; no store, no network.
  const cache = {
    resolve: (id: string) =>
      Promise.resolve(
        id === RELAY || id === 'my-relay' ? registration : id === OWNED ? owned : null,
      ),
    tokenState: () => Promise.resolve(h.tokenState),
  } as unknown as RegistrationCache
  h.gate = new SessionGate({
    secret,
    ...(owners === null ? {} : { owners }),
    cache,
    limits,
    metrics: new ProxyMetrics(registry),
    logger,
    trustedProxies: new Set(['10.0.0.1']),
    now: () => NOW,
  })
  return h
}

function request(path: string, opts: { from?: string; xff?: string; bearer?: string } = {}) {
  const headers: Record<string, string> = {}
  if (opts.xff !== undefined) headers['x-forwarded-for'] = opts.xff
  if (opts.bearer !== undefined) headers.authorization = `Bearer ${opts.bearer}`
  return {
    url: path,
    headers,
    socket: { remoteAddress: opts.from ?? '192.0.2.10' },
  } as unknown as IncomingMessage
}

const token = (extra: { pubkey?: string; relayAuthToken?: string; relayKey?: string } = {}) =>
  issueClientToken(SECRET, { relayKey: RELAY, issuedAt: NOW, ttlMs: 60_000, ...extra })

function admitted(a: Admission): Extract<Admission, { ok: true }> {
  if (!a.ok) throw new Error(`refused: ${a.code} ${a.reason}`)
  return a
}

async function limitHits(registry: Registry, limit: string): Promise<number> {
  const m = await registry.getSingleMetric('hypertuna_gateway_proxy_limit_hits_total')?.get()
  return m?.values.find((v) => v.labels.limit === limit)?.value ?? 0
}

describe('SessionGate (no network)', () => {
  let h: Harness
  beforeEach(() => {
    h = harness()
  })
  afterEach(() => h.limits.close())

  it('refuses with 1011 when no secret is configured', async () => {
    const g = harness({}, '', null)
    expect(await g.gate.admit(request(`/${RELAY}?token=${token()}`))).to.include({
      ok: false,
      code: 1011,
    })
    await g.limits.close()
  })

  it('refuses a malformed path with 4404 and an unknown relay with 4404', async () => {
    expect(await h.gate.admit(request('/a/b/c/d/e'))).to.include({ ok: false, code: 4404 })
    const other = issueClientToken(SECRET, { relayKey: 'e'.repeat(64), now: NOW })
    expect(await h.gate.admit(request(`/${'e'.repeat(64)}?token=${other}`))).to.deep.include({
      ok: false,
      code: 4404,
      reason: 'relay unknown',
    })
  })

  it('refuses missing, forged and wrong-relay tokens with 4403 and a reason', async () => {
    expect(await h.gate.admit(request(`/${RELAY}`))).to.deep.include({
      code: 4403,
      reason: 'token missing',
    })
    const forged = token().slice(0, -1) + (token().endsWith('0') ? '1' : '0')
    expect(await h.gate.admit(request(`/${RELAY}?token=${forged}`))).to.deep.include({
      code: 4403,
      reason: 'token bad-signature',
    })
    const elsewhere = token({ relayKey: 'f'.repeat(64) })
    expect(await h.gate.admit(request(`/${RELAY}?token=${elsewhere}`))).to.deep.include({
      code: 4403,
      reason: 'token wrong-relay',
    })
  })

  it('refuses a revoked token with 4403', async () => {
    h.tokenState = { seq: 0, minSeq: 0, revokedAt: NOW }
    expect(await h.gate.admit(request(`/${RELAY}?token=${token()}`))).to.deep.include({
      code: 4403,
      reason: 'token revoked',
    })
  })

  it('hands the worker the client token for a share link, and names nobody', async () => {
    const t = token()
    const { identity } = admitted(await h.gate.admit(request(`/my-relay?token=${t}`)))
    expect(identity.workerToken).to.equal(t)
    expect(identity.pubkey).to.equal(null)
    expect(identity.ip).to.equal('192.0.2.10')
    expect(identity.registration.relayKey).to.equal(RELAY)
  })

  it("hands the worker a per-user token's relayAuthToken, and names its person", async () => {
    const t = token({ pubkey: ALICE, relayAuthToken: 'worker-credential-for-alice' })
    const { identity } = admitted(await h.gate.admit(request(`/${RELAY}`, { bearer: t })))
    expect(identity.workerToken).to.equal('worker-credential-for-alice')
    expect(identity.token).to.equal(t)
    expect(identity.pubkey).to.equal(ALICE)
  })

  it('admits 50 sessions on one share token from one IP with the default limits', async () => {
    const t = token()
    const results = await Promise.all(
      Array.from({ length: 50 }, () => h.gate.admit(request(`/${RELAY}?token=${t}`))),
    )
    expect(results.filter((r) => r.ok)).to.have.length(50)
  })

  it('has defaults a relay can live with: >= 1000 per token, >= 64 per IP', () => {
    expect(DEFAULTS.maxSessionsPerToken).to.be.at.least(1000)
    expect(DEFAULTS.maxSessionsPerIp).to.be.at.least(64)
  })

  it('limits sessions per client IP with 1008 and a rate-limited NOTICE, freeing a place on release', async () => {
    const g = harness({ maxSessionsPerIp: 3 })
    const t = token()
    const open = [] as Array<Extract<Admission, { ok: true }>>
    for (let i = 0; i < 3; i++)
      open.push(admitted(await g.gate.admit(request(`/${RELAY}?token=${t}`))))
    const refused = await g.gate.admit(request(`/${RELAY}?token=${t}`))
    expect(refused).to.deep.include({ ok: false, code: 1008, reason: 'sessions per ip' })
    expect(refused.ok === false && refused.notice?.startsWith('rate-limited: ')).to.equal(true)
    expect(await limitHits(g.registry, 'sessions_per_ip')).to.equal(1)
    // Another address is not affected.
    admitted(await g.gate.admit(request(`/${RELAY}?token=${t}`, { from: '192.0.2.11' })))
    open[0]!.slot.release()
    open[0]!.slot.release() // twice counts once
    admitted(await g.gate.admit(request(`/${RELAY}?token=${t}`)))
    expect(await g.gate.admit(request(`/${RELAY}?token=${t}`))).to.include({ ok: false })
    await g.limits.close()
  })

  it('keys the IP on X-Forwarded-For only from a trusted proxy', async () => {
    const g = harness({ maxSessionsPerIp: 1 })
    const t = token()
    const viaProxy = (xff: string) => request(`/${RELAY}?token=${t}`, { from: '10.0.0.1', xff })
    expect(admitted(await g.gate.admit(viaProxy('198.51.100.1'))).identity.ip).to.equal(
      '198.51.100.1',
    )
    expect(admitted(await g.gate.admit(viaProxy('198.51.100.2'))).identity.ip).to.equal(
      '198.51.100.2',
    )
    expect(await g.gate.admit(viaProxy('198.51.100.1'))).to.include({ ok: false, code: 1008 })
    // An untrusted peer cannot pick its address with the header.
    const spoof = request(`/${RELAY}?token=${t}`, { from: '192.0.2.50', xff: '198.51.100.9' })
    expect(admitted(await g.gate.admit(spoof)).identity.ip).to.equal('192.0.2.50')
    await g.limits.close()
  })

  it('limits sessions per person across their tokens, not share-link users', async () => {
    const g = harness({ maxSessionsPerPubkey: 2 })
    const first = token({ pubkey: ALICE })
    const second = issueClientToken(SECRET, { relayKey: RELAY, now: NOW + 1, pubkey: ALICE })
    admitted(await g.gate.admit(request(`/${RELAY}?token=${first}`)))
    admitted(await g.gate.admit(request(`/${RELAY}?token=${second}`)))
    expect(await g.gate.admit(request(`/${RELAY}?token=${second}`))).to.deep.include({
      ok: false,
      code: 1008,
      reason: 'sessions per pubkey',
    })
    admitted(await g.gate.admit(request(`/${RELAY}?token=${token({ pubkey: BOB })}`)))
    for (let i = 0; i < 5; i++) admitted(await g.gate.admit(request(`/${RELAY}?token=${token()}`)))
    await g.limits.close()
  })

  it('takes no place under any limit when one of them refuses', async () => {
    const g = harness({ maxSessionsPerIp: 2, maxSessionsPerPubkey: 1 })
    const alice = token({ pubkey: ALICE })
    admitted(await g.gate.admit(request(`/${RELAY}?token=${alice}`)))
    expect(await g.gate.admit(request(`/${RELAY}?token=${alice}`))).to.deep.include({
      reason: 'sessions per pubkey',
    })
    // The refused attempt left the IP's second place free.
    admitted(await g.gate.admit(request(`/${RELAY}?token=${token()}`)))
    expect(await g.gate.admit(request(`/${RELAY}?token=${token()}`))).to.deep.include({
      reason: 'sessions per ip',
    })
    await g.limits.close()
  })

  it('limits sessions per token (a share-link ceiling)', async () => {
    const g = harness({ maxSessionsPerToken: 2 })
    const t = token()
    admitted(await g.gate.admit(request(`/${RELAY}?token=${t}`)))
    admitted(await g.gate.admit(request(`/${RELAY}?token=${t}`, { from: '192.0.2.20' })))
    expect(
      await g.gate.admit(request(`/${RELAY}?token=${t}`, { from: '192.0.2.30' })),
    ).to.deep.include({ code: 1008, reason: 'sessions per token' })
    await g.limits.close()
  })

  it('limits how fast one IP opens sessions', async () => {
    const g = harness({ sessionOpensPerIpPerMinute: 3 })
    for (let i = 0; i < 3; i++) {
      admitted(await g.gate.admit(request(`/${RELAY}?token=${token()}`))).slot.release()
    }
    const refused = await g.gate.admit(request(`/${RELAY}?token=${token()}`))
    expect(refused).to.deep.include({ code: 1008, reason: 'session open rate' })
    expect(await limitHits(g.registry, 'session_open_rate')).to.equal(1)
    await g.limits.close()
  })

  describe('relays owned by worker accounts', () => {
    const ownedToken = (secret: string) =>
      issueClientToken(secret, { relayKey: OWNED, issuedAt: NOW, ttlMs: 60_000 })

    it("serves a token signed with the owner's secret", async () => {
      const { identity } = admitted(
        await h.gate.admit(request(`/${OWNED}?token=${ownedToken(SECRET_A)}`)),
      )
      expect(identity.registration.workerId).to.equal(WORKER_A)
    })

    it("refuses another account's token and a shared-secret token with 4403 bad-signature", async () => {
      for (const secret of [SECRET_B, SECRET]) {
        expect(
          await h.gate.admit(request(`/${OWNED}?token=${ownedToken(secret)}`)),
        ).to.deep.include({ ok: false, code: 4403, reason: 'token bad-signature' })
      }
      const m = await h.registry
        .getSingleMetric('hypertuna_gateway_proxy_token_rejections_total')
        ?.get()
      expect(m?.values.find((v) => v.labels.reason === 'bad-signature')?.value).to.equal(2)
    })

    it("makes the owner's secret no key to relays nobody owns", async () => {
      const t = issueClientToken(SECRET_A, { relayKey: RELAY, issuedAt: NOW, ttlMs: 60_000 })
      expect(await h.gate.admit(request(`/${RELAY}?token=${t}`))).to.deep.include({
        code: 4403,
        reason: 'token bad-signature',
      })
    })

    it('answers 4404 for a relay whose owner is gone (disabled, unknown here)', async () => {
      const g = harness({}, SECRET, { enabled: true, secret: () => Promise.resolve(null) })
      expect(
        await g.gate.admit(request(`/${OWNED}?token=${ownedToken(SECRET_A)}`)),
      ).to.deep.include({ ok: false, code: 4404, reason: 'relay unknown' })
      await g.limits.close()
    })

    it('multi-tenant (no shared secret): owned relays served, unowned ones 4403 bad-signature', async () => {
      const g = harness({}, '')
      admitted(await g.gate.admit(request(`/${OWNED}?token=${ownedToken(SECRET_A)}`)))
      expect(await g.gate.admit(request(`/${RELAY}?token=${token()}`))).to.deep.include({
        code: 4403,
        reason: 'token bad-signature',
      })
      await g.limits.close()
    })

    it('refuses a malformed token before any lookup', async () => {
      let lookups = 0
      const g = harness({}, SECRET, {
        enabled: true,
        secret: () => (lookups++, Promise.resolve(SECRET_A)),
      })
      expect(await g.gate.admit(request(`/${OWNED}?token=not-a-token`))).to.deep.include({
        code: 4403,
        reason: 'token malformed',
      })
      expect(lookups).to.equal(0)
      await g.limits.close()
    })
  })
})

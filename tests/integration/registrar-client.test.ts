import { expect } from 'chai'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { verifyClientToken } from '../../shared/auth/client-token.js'
import {
  verifyLegacyDelete,
  verifyRegistrationSignature,
} from '../../shared/auth/registration-signature.js'
import { ErrorCode, GatewayError } from '../../shared/errors.js'
import { MemoryStore } from '../../shared/store/memory-store.js'
import { RegistrarClient } from '../../shared/worker/registrar-client.js'
import type { RegistrarClientOptions } from '../../shared/worker/registrar-client.js'
import { RegistrarRequestError } from '../../shared/worker/registrar-request-error.js'
import { shareUrl } from '../../shared/worker/share-url.js'
import { freePort } from '../helpers/free-port.js'
import { ManualClock, SECRET, hexKey, startRegistrar } from '../helpers/registrar-harness.js'
import type { RegistrarHarness } from '../helpers/registrar-harness.js'

/** A registrar as legacy gateways ran it: POST and DELETE, nothing else, no capabilities. */
class LegacyRegistrar {
  readonly server: Server
  readonly registrations = new Map<string, Record<string, unknown>>()
  readonly requests: string[] = []
  /** Answers the next N registrations with 503, as a registrar behind a failing proxy. */
  failNext = 0
  url = ''

  constructor() {
    this.server = createServer((req, res) => void this.#handle(req, res))
  }

  async start(): Promise<void> {
    this.server.listen(0, '127.0.0.1')
    await once(this.server, 'listening')
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    this.requests.push(`${req.method} ${req.url}`)
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    }
    const path = req.url ?? ''
    if (req.method === 'POST' && path === '/api/relays') {
      if (this.failNext > 0) {
        this.failNext--
        return send(503, { error: 'unavailable' })
      }
      const body = JSON.parse(Buffer.concat(chunks).toString()) as {
        registration: Record<string, unknown>
        signature: unknown
      }
      if (!verifyRegistrationSignature(SECRET, body.registration, body.signature)) {
        return send(401, { error: 'Invalid signature' })
      }
      this.registrations.set(body.registration.relayKey as string, body.registration)
      return send(200, { status: 'ok' })
    }
    const match = /^\/api\/relays\/([^/]+)$/.exec(path)
    if (req.method === 'DELETE' && match !== null) {
      const relayKey = decodeURIComponent(match[1] ?? '')
      if (!verifyLegacyDelete(SECRET, relayKey, req.headers['x-signature'])) {
        return send(401, { error: 'Invalid signature' })
      }
      this.registrations.delete(relayKey)
      return send(200, { status: 'ok' })
    }
    send(404, { error: 'Not found' })
  }
}

function codeOf(err: unknown): {
  code: string
  status: number | null
  registrarCode: string | null
} {
  if (!(err instanceof RegistrarRequestError)) throw err
  return { code: err.code, status: err.status, registrarCode: err.registrarCode }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (err) {
    return err
  }
  throw new Error('expected a rejection')
}

describe('RegistrarClient', function () {
  let clock: ManualClock
  let store: MemoryStore
  let h: RegistrarHarness | undefined
  let url: string
  const clients: RegistrarClient[] = []

  function client(options: Partial<RegistrarClientOptions> = {}): RegistrarClient {
    const made = new RegistrarClient({
      registrarUrl: url,
      secret: SECRET,
      now: clock.now,
      ...options,
    })
    clients.push(made)
    return made
  }

  async function startServer(options: Parameters<typeof startRegistrar>[0]['options'] = {}) {
    const started = startRegistrar({ store, clock, options })
    h = started
    url = (await started.server.listen()).url
  }

  beforeEach(() => {
    h = undefined
    clock = new ManualClock(Date.now())
    store = new MemoryStore({ now: clock.now })
  })

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()))
    await h?.close()
    await store.close()
  })

  it('registers a relay with the legacy payload and reads it back', async () => {
    await startServer()
    const c = client({ registrarUrl: url.replace(/\/$/, '') })
    const relayKey = hexKey()
    const peers = [hexKey()]
    const result = await c.register({ relayKey, peers, metadata: { name: 'r', gatewayPath: 'rr' } })
    expect(result.ttlSeconds).to.equal(300)
    const stored = await store.getRegistration(relayKey)
    expect(stored?.peers).to.deep.equal(peers)
    expect(stored?.nonce).to.match(/^[0-9a-f]{24}$/)
    expect(stored?.issuedAt).to.equal(clock.now())
    expect(await c.supports('replay-proof-delete')).to.equal(true)
    const read = await c.getRegistration(relayKey)
    expect(read.registration).to.deep.equal(stored)
    expect(read.ttlMs).to.be.within(1, 300_000)
  })

  it('renews before the TTL runs out, with a fresh nonce each time, until closed', async () => {
    await startServer({ registrationTtlSeconds: 1 })
    const c = client()
    const relayKey = hexKey()
    const result = await c.register({ relayKey, peers: [hexKey()] })
    expect(result.ttlSeconds).to.equal(1)
    const nonces = new Set([(await store.getRegistration(relayKey))?.nonce])
    c.startRenewal()
    for (let i = 0; i < 2; i++) {
      const [renewed] = (await once(c, 'renewed')) as [string]
      expect(renewed).to.equal(relayKey)
      nonces.add((await store.getRegistration(relayKey))?.nonce)
    }
    expect(nonces.size).to.equal(3)
    await c.close()
    await c.close()
    const err = await rejection(c.register({ relayKey, peers: [hexKey()] }))
    expect(codeOf(err).code).to.equal(ErrorCode.CLIENT_CLOSED)
  })

  it('retries a failed renewal and recovers', async () => {
    const legacy = new LegacyRegistrar()
    await legacy.start()
    try {
      const c = client({
        registrarUrl: legacy.url,
        defaultTtlSeconds: 1,
        retry: { minMs: 20, maxMs: 100 },
      })
      const relayKey = hexKey()
      await c.register({ relayKey, peers: [hexKey()] })
      legacy.failNext = 2
      c.startRenewal()
      const [, failure] = (await once(c, 'renewal-failed')) as [string, Error]
      expect(codeOf(failure)).to.deep.equal({
        code: ErrorCode.STORE_UNAVAILABLE,
        status: 503,
        registrarCode: null,
      })
      await once(c, 'renewed')
      expect(legacy.failNext).to.equal(0)
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.close()))
      await legacy.stop()
    }
  })

  it('unregisters with the replay-proof form when the registrar offers it', async () => {
    await startServer({ legacyDelete: false })
    const c = client()
    const relayKey = 'npub1example:my-relay'
    await c.register({ relayKey, peers: [hexKey()] })
    c.startRenewal()
    expect(await c.unregister(relayKey)).to.deep.equal({ form: 'replay-proof', removed: true })
    expect(await store.getRegistration(relayKey)).to.equal(null)
    expect(await c.unregister(relayKey)).to.deep.equal({ form: 'replay-proof', removed: false })
  })

  it('falls back to the legacy forms against a legacy registrar', async () => {
    const legacy = new LegacyRegistrar()
    await legacy.start()
    try {
      const c = client({ registrarUrl: legacy.url })
      const relayKey = hexKey()
      const result = await c.register({ relayKey, peers: [hexKey()], metadata: { isPublic: true } })
      expect(result.ttlSeconds).to.equal(300)
      expect(legacy.registrations.has(relayKey)).to.equal(true)
      expect(await c.supports('tokens')).to.equal(false)
      const grant = await c.issueToken(relayKey, { ttlSeconds: 60 })
      expect(grant.source).to.equal('local')
      expect(verifyClientToken(SECRET, grant.token, { relayKey, now: clock.now() }).ok).to.equal(
        true,
      )
      const err = await rejection(c.refreshToken(relayKey, grant.token))
      expect(codeOf(err).code).to.equal(ErrorCode.REGISTRAR_UNSUPPORTED)
      expect(await c.unregister(relayKey)).to.deep.equal({ form: 'legacy', removed: true })
      expect(legacy.registrations.has(relayKey)).to.equal(false)
      expect(legacy.requests).to.include(`DELETE /api/relays/${relayKey}`)
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.close()))
      await legacy.stop()
    }
  })

  it('issues per-user tokens, through the registrar and locally', async () => {
    await startServer()
    const c = client()
    const relayKey = hexKey()
    await c.register({ relayKey, peers: [hexKey()] })
    const person = { pubkey: 'ef'.repeat(32), relayAuthToken: 'worker-credential' }
    for (const via of ['registrar', 'local'] as const) {
      const grant = await c.issueToken(relayKey, { via, ...person })
      const check = verifyClientToken(SECRET, grant.token, { relayKey, now: clock.now() })
      expect(check.ok && check.payload, via).to.deep.include(person)
    }
  })

  it('issues, refreshes and revokes tokens through the registrar', async () => {
    await startServer()
    const c = client()
    const relayKey = hexKey()
    await c.register({ relayKey, peers: [hexKey()] })

    const issued = await c.issueToken(relayKey, { ttlSeconds: 120 })
    expect(issued).to.include({ source: 'registrar', seq: 1 })
    expect(issued.expiresAt - issued.issuedAt).to.equal(120_000)
    const check = verifyClientToken(SECRET, issued.token, { relayKey, now: clock.now() })
    expect(check.ok && check.payload.seq).to.equal(1)

    const local = await c.issueToken(relayKey, { via: 'local', ttlSeconds: 60 })
    expect(local.source).to.equal('local')
    expect(local.seq).to.equal(undefined)

    clock.advance(1_000)
    const refreshed = await c.refreshToken(relayKey, issued.token)
    expect(refreshed.seq).to.equal(2)
    expect(refreshed.expiresAt).to.equal(clock.now() + 120_000)

    const revoked = await c.revokeTokens(relayKey)
    expect(revoked.minSeq).to.equal(3)
    const err = await rejection(c.refreshToken(relayKey, refreshed.token))
    expect(codeOf(err)).to.deep.equal({
      code: ErrorCode.TOKEN_INVALID,
      status: 403,
      registrarCode: 'token_revoked',
    })
    const localErr = await rejection(c.refreshToken(relayKey, local.token))
    expect(codeOf(localErr).registrarCode).to.equal('token_revoked')

    const unknown = await rejection(c.issueToken(hexKey(), { via: 'registrar' }))
    expect(codeOf(unknown)).to.deep.equal({
      code: ErrorCode.REGISTRAR_REJECTED,
      status: 404,
      registrarCode: 'relay_not_found',
    })
  })

  it('reports failures with codes', async () => {
    await startServer()
    const wrong = client({ secret: 'not-the-registrar-secret' })
    const err = await rejection(wrong.register({ relayKey: hexKey(), peers: [hexKey()] }))
    expect(err).to.be.instanceOf(GatewayError)
    expect(codeOf(err)).to.deep.equal({
      code: ErrorCode.SIGNATURE_INVALID,
      status: 401,
      registrarCode: 'signature_invalid',
    })
    const skewed = client({ now: () => clock.now() - 3_600_000 })
    expect(
      codeOf(await rejection(skewed.register({ relayKey: hexKey(), peers: [hexKey()] }))),
    ).to.deep.equal({
      code: ErrorCode.SIGNATURE_INVALID,
      status: 401,
      registrarCode: 'stale_registration',
    })
    const nowhere = client({ registrarUrl: `http://127.0.0.1:${await freePort()}` })
    const unreachable = await rejection(nowhere.register({ relayKey: hexKey(), peers: [hexKey()] }))
    expect(codeOf(unreachable)).to.deep.equal({
      code: ErrorCode.REGISTRAR_UNREACHABLE,
      status: null,
      registrarCode: null,
    })
    expect(() => new RegistrarClient({ registrarUrl: url, secret: 'short' })).to.throw(GatewayError)
  })

  it('builds share URLs', () => {
    const c = new RegistrarClient({ registrarUrl: 'http://x', secret: SECRET })
    expect(c.shareUrl('https://gw.example.com', 'my-relay', 'abc.def')).to.equal(
      'wss://gw.example.com/my-relay?token=abc.def',
    )
    expect(shareUrl('http://127.0.0.1:8080/', 'npub1x:name', 'a.b')).to.equal(
      'ws://127.0.0.1:8080/npub1x:name?token=a.b',
    )
    expect(shareUrl('https://gw.example.com/base/', 'team/relay one', 't')).to.equal(
      'wss://gw.example.com/base/team/relay%20one?token=t',
    )
    expect(() => shareUrl('ftp://gw', 'x', 't')).to.throw(GatewayError)
    expect(() => shareUrl('https://gw', '', 't')).to.throw(GatewayError)
  })
})

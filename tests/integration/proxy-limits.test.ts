import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { issueClientToken } from '../../shared/auth/client-token.js'
import { startProxyStack, SECRET } from '../helpers/proxy-stack.js'
import type { ProxyStack } from '../helpers/proxy-stack.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import { startWorker } from '../helpers/worker.js'
import type { TestWorker } from '../helpers/worker.js'
import { isNotice, rawClient } from '../helpers/ws-client.js'

async function metric(stack: ProxyStack, name: string, labels: Record<string, string>) {
  const m = await stack.registry.getSingleMetric(name)?.get()
  return (
    m?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value ??
    0
  )
}

describe('proxy refusals, limits and bad input', function () {
  this.timeout(30_000)
  let testnet: LocalTestnet
  let worker: TestWorker
  let stack: ProxyStack
  let relayKey: string

  before(async () => {
    testnet = await startTestnet()
    worker = await startWorker(testnet)
    relayKey = worker.relayKey
    stack = await startProxyStack(testnet, {
      limits: {
        maxFrameBytes: 4096,
        maxQueuedMessages: 4,
        maxSessionsPerToken: 2,
        messagesPerSecond: 1000,
      },
    })
    await stack.register(relayKey, [worker.publicKey], {
      gatewayPath: 'my-relay',
      name: 'My relay',
    })
  })

  after(async () => {
    await stack.close()
    await worker.close()
    await testnet.destroy()
  })

  async function closeCode(path: string, token?: string, headers?: Record<string, string>) {
    const c = await rawClient(stack.url(path, token), headers)
    return (await c.closed)[0]
  }

  it('closes 4403 for a missing, tampered, expired or wrong-relay token, counting each reason', async () => {
    const good = stack.token(relayKey)
    expect(await closeCode(relayKey)).to.equal(4403)
    expect(await closeCode(relayKey, good.slice(0, -2) + '00')).to.equal(4403)
    const expired = issueClientToken(SECRET, { relayKey, issuedAt: 1_000, expiresAt: 2_000 })
    expect(await closeCode(relayKey, expired)).to.equal(4403)
    const other = stack.token('c'.repeat(64))
    expect(await closeCode(relayKey, other)).to.equal(4403)
    for (const reason of ['missing', 'bad-signature', 'expired', 'wrong-relay']) {
      expect(
        await metric(stack, 'hypertuna_gateway_proxy_token_rejections_total', { reason }),
      ).to.equal(1)
    }
  })

  it('closes 4404 for an unknown relay or a malformed path', async () => {
    const unknown = 'd'.repeat(64)
    expect(await closeCode(unknown, stack.token(unknown))).to.equal(4404)
    expect(await closeCode('a/b/c/d/e', stack.token(relayKey))).to.equal(4404)
    expect(await closeCode('a/b/c', stack.token(relayKey))).to.equal(4404)
  })

  it('accepts the gatewayPath alias and a Bearer token', async () => {
    const c = await rawClient(stack.url('my-relay'), {
      authorization: `Bearer ${stack.token(relayKey)}`,
    })
    c.send(['REQ', 's', { kinds: [1] }])
    expect(await c.next((m) => Array.isArray(m) && m[0] === 'EOSE')).to.deep.equal(['EOSE', 's'])
    c.ws.close()
  })

  it('accepts a multi-segment gatewayPath alias', async () => {
    await stack.register(relayKey, [worker.publicKey], { gatewayPath: 'team/general/chat' })
    const c = await rawClient(stack.url('team/general/chat', stack.token(relayKey)))
    c.send(['REQ', 's', { kinds: [1] }])
    expect(await c.next((m) => Array.isArray(m) && m[0] === 'EOSE')).to.deep.equal(['EOSE', 's'])
    c.ws.close()
  })

  it('closes 1013 with a NOTICE when the relay has no worker at all', async () => {
    const lonely = randomBytes(32).toString('hex')
    await stack.register(lonely, [])
    const c = await rawClient(stack.url(lonely, stack.token(lonely)))
    const [code] = await c.closed
    expect(code).to.equal(1013)
    expect(c.messages.some(isNotice('Error:'))).to.equal(true)
  })

  it('answers malformed frames with NOTICEs and keeps the session', async () => {
    const c = await rawClient(stack.url(relayKey, stack.token(relayKey)))
    c.send('not json')
    await c.next(isNotice('invalid: message is not JSON'))
    c.send({ not: 'an array' })
    await c.next(isNotice('invalid: message must be a JSON array'))
    c.ws.send(Buffer.from([1, 2, 3]))
    await c.next(isNotice('invalid: binary'))
    c.send(['REQ', 'ok', { kinds: [1] }])
    await c.next((m) => Array.isArray(m) && m[0] === 'EOSE')
    c.ws.close()
  })

  it('closes 1009 on an oversized frame without touching other sessions', async () => {
    const token = stack.token(relayKey)
    const bystander = await rawClient(stack.url(relayKey, token))
    const big = await rawClient(stack.url(relayKey, token))
    big.send(['EVENT', { content: 'x'.repeat(8192) }])
    expect((await big.closed)[0]).to.equal(1009)
    bystander.send(['REQ', 'still', { kinds: [1] }])
    await bystander.next((m) => Array.isArray(m) && m[0] === 'EOSE')
    bystander.ws.close()
  })

  it('answers a REQ that reuses a subscription id before the first EOSE in full', async () => {
    const writer = await rawClient(stack.url(relayKey, stack.token(relayKey)))
    const { note } = await import('../helpers/nostr.js')
    const event = note('reused subscription id')
    writer.send(['EVENT', event])
    await writer.next((m) => Array.isArray(m) && m[0] === 'OK' && m[1] === event.id)
    const c = await rawClient(stack.url(relayKey, stack.token(relayKey)))
    c.send(['REQ', 'x', { ids: [event.id] }])
    c.send(['REQ', 'x', { ids: [event.id] }])
    const isEose = (m: unknown) => Array.isArray(m) && m[0] === 'EOSE'
    await c.next((m) => isEose(m) && c.messages.filter(isEose).length === 2)
    const events = c.messages.filter((m) => Array.isArray(m) && m[0] === 'EVENT')
    expect(events).to.have.length(2)
    writer.ws.close()
    c.ws.close()
  })

  it('refuses a flood beyond the queue bound in kind (CLOSED rate-limited) and serves what it admitted', async () => {
    const c = await rawClient(stack.url(relayKey, stack.token(relayKey)))
    for (let i = 0; i < 40; i++) c.send(['REQ', `f${i}`, { kinds: [1] }])
    // Every message gets exactly one answer: an EOSE when admitted, its CLOSED when refused.
    const isEose = (m: unknown) => Array.isArray(m) && m[0] === 'EOSE'
    const isRefused = (m: unknown) =>
      Array.isArray(m) && m[0] === 'CLOSED' && String(m[2]).startsWith('rate-limited: ')
    const answered = () => c.messages.filter((m) => isEose(m) || isRefused(m)).length
    let last = c.messages.length
    while (answered() < 40) {
      await c.next(() => c.messages.length > last)
      last = c.messages.length
    }
    const refused = c.messages.filter(isRefused).length
    expect(refused).to.be.at.least(1)
    expect(c.messages.filter(isEose)).to.have.length(40 - refused)
    const ids = c.messages.filter((m) => isEose(m) || isRefused(m)).map((m) => (m as string[])[1])
    expect(new Set(ids).size).to.equal(40)
    c.send(['REQ', 'after', { kinds: [1] }])
    await c.next((m) => Array.isArray(m) && m[0] === 'EOSE' && m[1] === 'after')
    expect(
      await metric(stack, 'hypertuna_gateway_proxy_limit_hits_total', { limit: 'queue' }),
    ).to.be.greaterThan(0)
    c.ws.close()
  })

  it('limits sessions per token with 1008', async () => {
    const token = stack.token(relayKey, { purpose: 'limit-test' })
    const a = await rawClient(stack.url(relayKey, token))
    const b = await rawClient(stack.url(relayKey, token))
    const c = await rawClient(stack.url(relayKey, token))
    expect((await c.closed)[0]).to.equal(1008)
    a.ws.close()
    b.ws.close()
  })

  it('closes a live session with 4403 "token expired" when its token expires (issue 9.4)', async () => {
    // The token must outlive connect + gate + one REQ round trip, or the session is closed
    // before it is shown to be served; 1.5 s was not always enough on a loaded CI machine,
    // and the test then hung on the EOSE until mocha's timeout instead of saying so.
    const expiresAt = Date.now() + 3_000
    const token = issueClientToken(SECRET, { relayKey, expiresAt })
    const c = await rawClient(stack.url(relayKey, token))
    c.send(['REQ', 'e', { kinds: [1] }])
    const served = await Promise.race([
      c.next((m) => Array.isArray(m) && m[0] === 'EOSE').then(() => true),
      c.closed.then(() => false),
    ])
    expect(served, 'closed before its first EOSE: setup outlasted the token').to.equal(true)
    const [code, reason] = await c.closed
    const late = Date.now() - expiresAt
    expect([code, reason]).to.deep.equal([4403, 'token expired'])
    expect(late).to.be.at.least(0)
    // The issue's bound (one timer per session, not a sweep).
    expect(late).to.be.below(1_000)
  })

  it('closes live sessions with 4403 when the relay tokens are revoked', async () => {
    const c = await rawClient(stack.url(relayKey, stack.token(relayKey)))
    c.send(['REQ', 'r', { kinds: [1] }])
    await c.next((m) => Array.isArray(m) && m[0] === 'EOSE')
    await stack.store.revokeTokens(relayKey)
    expect((await c.closed)[0]).to.equal(4403)
    // A token issued after the revocation works again.
    const fresh = await rawClient(stack.url(relayKey, stack.token(relayKey, { seq: 1 })))
    fresh.send(['REQ', 'r', { kinds: [1] }])
    await fresh.next((m) => Array.isArray(m) && m[0] === 'EOSE')
    fresh.ws.close()
  })
})

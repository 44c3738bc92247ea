import { expect } from 'chai'
import { EventEmitter } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { HttpForwarder } from '../../proxy/http-forwarder.js'
import type { ForwardPool, RelayResolver } from '../../proxy/http-forwarder.js'
import { ProxyMetrics } from '../../proxy/proxy-metrics.js'
import { ErrorCode, GatewayError } from '../../shared/errors.js'
import type { OutgoingRequest } from '../../shared/protocol/relay-channel.js'
import type { RelayResponse } from '../../shared/protocol/wire.js'
import type { Registration } from '../../shared/store/gateway-store.js'

const RELAY = 'a'.repeat(64)
const OTHER = 'b'.repeat(64)
const W1 = '1'.repeat(64)
const W2 = '2'.repeat(64)
const STRANGER = '9'.repeat(64)

function registration(relayKey: string, peers: string[], gatewayPath?: string): Registration {
  return {
    relayKey,
    peers,
    metadata: gatewayPath === undefined ? {} : { gatewayPath },
    nonce: null,
    issuedAt: 0,
    registeredAt: 0,
    expiresAt: Number.MAX_SAFE_INTEGER,
  }
}

// Registrations by key and alias, as the registration cache resolves them.
function resolver(...regs: Registration[]): RelayResolver {
  return {
    async resolve(id: string) {
      return regs.find((r) => r.relayKey === id || r.metadata.gatewayPath === id) ?? null
    },
  }
}

type Answer = RelayResponse | Error

// A pool whose every worker is ready; answers per worker, recording what each was asked.
class StubPool implements ForwardPool {
  readonly asked: Array<{ peer: string; req: OutgoingRequest }> = []
  constructor(readonly answers: Record<string, Answer>) {}
  select(keys: readonly string[], exclude?: ReadonlySet<string>): string | null {
    return keys.find((k) => !exclude?.has(k)) ?? null
  }
  async request(peer: string, req: OutgoingRequest): Promise<RelayResponse> {
    this.asked.push({ peer, req })
    const answer = this.answers[peer] ?? new GatewayError(ErrorCode.PEER_UNREACHABLE, 'no such')
    if (answer instanceof Error) throw answer
    return answer
  }
}

function ok(body: string, headers: Record<string, string> = {}): RelayResponse {
  return { id: 1, statusCode: 200, headers, body: Buffer.from(body) }
}

interface Reply {
  status: number
  headers: Record<string, string>
  body: string
}

// The slice of ServerResponse the forwarder writes through; no socket anywhere.
function fakeResponse(): { res: ServerResponse; done: Promise<Reply> } {
  const emitter = new EventEmitter()
  let status = 0
  let headers: Record<string, string> = {}
  let resolve: (r: Reply) => void = () => {}
  const done = new Promise<Reply>((r) => (resolve = r))
  const res = Object.assign(emitter, {
    headersSent: false,
    writeHead(code: number, h: Record<string, string> = {}) {
      status = code
      headers = h
      return res
    },
    end(body?: Buffer | string) {
      resolve({ status, headers, body: body === undefined ? '' : body.toString() })
      return res
    },
  })
  return { res: res as unknown as ServerResponse, done }
}

function request(url: string, headers: Record<string, string> = {}, method = 'GET') {
  return { method, url, headers } as unknown as IncomingMessage
}

function forwarder(pool: StubPool, cache: RelayResolver) {
  const metrics = new ProxyMetrics(new Registry())
  return {
    metrics,
    fw: new HttpForwarder({ pool, cache, metrics, logger: pino({ level: 'silent' }) }),
  }
}

async function serve(fw: HttpForwarder, req: IncomingMessage): Promise<Reply> {
  const { res, done } = fakeResponse()
  const pathname = (req.url ?? '/').split('?')[0] as string
  await fw.handle(req, res, pathname)
  return done
}

describe('HttpForwarder (no network)', () => {
  it('serves only /drive/ and /pfp/ paths', () => {
    const { fw } = forwarder(new StubPool({}), resolver())
    expect(fw.handles('/drive/x/y')).to.equal(true)
    expect(fw.handles('/pfp/x')).to.equal(true)
    for (const p of ['/', '/drive', '/pfpx/y', '/api/relays'])
      expect(fw.handles(p), p).to.equal(false)
  })

  it("forwards /drive to the relay's worker with status, headers and bytes, hop-by-hop stripped", async () => {
    const pool = new StubPool({
      [W1]: ok('bytes', { 'content-type': 'image/png', connection: 'close', 'x-extra': '1' }),
    })
    const { fw } = forwarder(pool, resolver(registration(RELAY, [W1])))
    const reply = await serve(
      fw,
      request(`/drive/${RELAY}/f.png`, { range: 'bytes=0-1', cookie: 'c', authorization: 'x' }),
    )
    expect(reply).to.deep.equal({
      status: 200,
      headers: { 'content-type': 'image/png', 'x-extra': '1', 'content-length': '5' },
      body: 'bytes',
    })
    expect(pool.asked).to.have.length(1)
    expect(pool.asked[0]?.req).to.deep.equal({
      method: 'GET',
      path: `/drive/${RELAY}/f.png`,
      headers: { range: 'bytes=0-1' },
    })
  })

  it('strips tokens and other credentials from the forwarded URL, keeping the rest', async () => {
    const pool = new StubPool({ [W1]: ok('x') })
    const { fw } = forwarder(pool, resolver(registration(RELAY, [W1])))
    await serve(fw, request(`/drive/${RELAY}/f?token=T1&v=2&tok%65n=T2&access_token=T3&sig=T4`))
    expect(pool.asked[0]?.req.path).to.equal(`/drive/${RELAY}/f?v=2`)
  })

  it('keeps the worker length on HEAD and sends no body', async () => {
    const pool = new StubPool({ [W1]: ok('', { 'content-length': '1234' }) })
    const { fw } = forwarder(pool, resolver(registration(RELAY, [W1])))
    const reply = await serve(fw, request(`/drive/${RELAY}/f`, {}, 'HEAD'))
    expect(reply.status).to.equal(200)
    expect(reply.headers['content-length']).to.equal('1234')
    expect(reply.body).to.equal('')
  })

  it("tries the relay's next worker when one fails, and counts the forward", async () => {
    const pool = new StubPool({
      [W1]: new GatewayError(ErrorCode.REQUEST_TIMEOUT, 'slow'),
      [W2]: ok('second'),
    })
    const { fw, metrics } = forwarder(pool, resolver(registration(RELAY, [W1, W2])))
    const reply = await serve(fw, request(`/drive/${RELAY}/f`))
    expect(reply.body).to.equal('second')
    expect(pool.asked.map((a) => a.peer)).to.deep.equal([W1, W2])
    const counted = await metrics.httpForwards.get()
    expect(counted.values.find((v) => v.labels.status === '2xx')?.value).to.equal(1)
  })

  it('answers 502 with the last error code when every worker fails', async () => {
    const pool = new StubPool({
      [W1]: new GatewayError(ErrorCode.PEER_UNREACHABLE, 'gone'),
      [W2]: new GatewayError(ErrorCode.REQUEST_TIMEOUT, 'slow'),
    })
    const { fw } = forwarder(pool, resolver(registration(RELAY, [W1, W2])))
    const reply = await serve(fw, request(`/drive/${RELAY}/f`))
    expect(reply.status).to.equal(502)
    expect(JSON.parse(reply.body)).to.deep.include({ code: 'bad_gateway' })
    expect(JSON.parse(reply.body).error).to.contain(ErrorCode.REQUEST_TIMEOUT)
  })

  it('refuses other methods (405), malformed paths and unknown relays (404)', async () => {
    const pool = new StubPool({})
    const { fw } = forwarder(pool, resolver(registration(RELAY, [W1])))
    const post = await serve(fw, request(`/drive/${RELAY}/f`, {}, 'POST'))
    expect(post.status).to.equal(405)
    expect(post.headers.allow).to.equal('GET, HEAD')
    expect((await serve(fw, request(`/drive/${RELAY}`))).status).to.equal(404)
    expect((await serve(fw, request('/pfp/a/b/c'))).status).to.equal(404)
    const unknown = await serve(fw, request(`/drive/${OTHER}/f`))
    expect(JSON.parse(unknown.body).code).to.equal('relay_unknown')
    expect(pool.asked).to.have.length(0)
  })

  describe('/pfp goes only to workers of the relay it names (issue 9.10)', () => {
    const regs = [registration(RELAY, [W1], 'my-relay'), registration(OTHER, [W2])]

    async function pfp(url: string, headers: Record<string, string> = {}) {
      // A worker of no relay is ready too: it must never be asked.
      const pool = new StubPool({ [W1]: ok('w1'), [W2]: ok('w2'), [STRANGER]: ok('stranger') })
      const { fw } = forwarder(pool, resolver(...regs))
      const reply = await serve(fw, request(url, headers))
      return { reply, asked: pool.asked }
    }

    it('by ?relay= (key or alias), forwarding the path without it', async () => {
      const byKey = await pfp(`/pfp/avatar.png?relay=${OTHER}&token=T`)
      expect(byKey.reply.body).to.equal('w2')
      expect(byKey.asked.map((a) => [a.peer, a.req.path])).to.deep.equal([[W2, '/pfp/avatar.png']])
      const byAlias = await pfp('/pfp/owner1/avatar.png?relay=my-relay')
      expect(byAlias.asked.map((a) => [a.peer, a.req.path])).to.deep.equal([
        [W1, '/pfp/owner1/avatar.png'],
      ])
    })

    it('by the owner segment when it is a relay identifier', async () => {
      const { reply, asked } = await pfp(`/pfp/${RELAY}/avatar.png`)
      expect(reply.body).to.equal('w1')
      expect(asked.map((a) => a.peer)).to.deep.equal([W1])
    })

    it('by the relay page it was loaded from (legacy /pfp/:file)', async () => {
      const { reply, asked } = await pfp('/pfp/avatar.png', {
        referer: `https://gateway.example/${OTHER}?token=T`,
      })
      expect(reply.body).to.equal('w2')
      expect(asked.map((a) => a.peer)).to.deep.equal([W2])
    })

    it('refuses 404 relay_unknown when no relay can be inferred, asking nobody', async () => {
      for (const [url, headers] of [
        ['/pfp/avatar.png', {}],
        ['/pfp/someone/avatar.png', {}],
        ['/pfp/avatar.png', { referer: 'https://gateway.example/' }],
        ['/pfp/avatar.png', { referer: 'not a url' }],
        [`/pfp/avatar.png?relay=${'c'.repeat(64)}`, {}],
      ] as const) {
        const { reply, asked } = await pfp(url, headers)
        expect(reply.status, url).to.equal(404)
        expect(JSON.parse(reply.body).code).to.equal('relay_unknown')
        expect(asked, url).to.have.length(0)
      }
    })
  })
})

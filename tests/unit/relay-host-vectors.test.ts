import { expect } from 'chai'
import type Hyperswarm from 'hyperswarm'
import { pino } from 'pino'
import { ExampleRelay } from '../../shared/worker/example-relay.js'
import { RelayHost } from '../../shared/worker/relay-host.js'
import { FramedEnd, lengthPrefixed } from '../helpers/framed-pair.js'
import { frame } from '../helpers/vectors.js'

const RELAY = 'b'.repeat(64)
const WORKER_KEY = Buffer.alloc(32, 0xcc)

// No network in unit tests: the host only needs the swarm's key pair here.
const swarmStub = {
  keyPair: { publicKey: WORKER_KEY, secretKey: Buffer.alloc(64) },
  on() {},
  off() {},
} as unknown as Hyperswarm

interface Frame {
  slot: number
  json: Record<string, unknown>
}

function decode(buf: Buffer): Frame {
  // [channel id][slot][uint length][json]; lengths here fit one or three bytes.
  const slot = buf[1] as number
  const first = buf[2] as number
  const start = first < 0xfd ? 3 : 5
  return { slot, json: JSON.parse(buf.subarray(start).toString()) as Record<string, unknown> }
}

function body(f: Frame): string {
  return Buffer.from(f.json.body as number[]).toString()
}

describe('RelayHost answers the legacy vector frames', () => {
  let relay: ExampleRelay
  let host: RelayHost
  let end: FramedEnd

  beforeEach(async () => {
    relay = new ExampleRelay()
    host = new RelayHost({
      swarm: swarmStub,
      logger: pino({ level: 'silent' }),
      relays: [{ relayKey: RELAY, backend: relay }],
    })
    end = new FramedEnd()
    const channel = host.serve(end)
    end.inject(frame('clientOpenFrames'))
    await channel.opened()
  })

  afterEach(async () => {
    await host.close()
    relay.close()
  })

  async function reply(raw: Buffer): Promise<Frame> {
    const before = end.written.length
    end.inject(raw)
    while (end.written.length === before) await new Promise((r) => setImmediate(r))
    return decode(end.written[before] as Buffer)
  }

  it('opens as a server advertising the legacy capabilities plus our extensions', () => {
    const open = (end.written[0] as Buffer).toString()
    expect(open).to.include('"isServer":true')
    expect(open).to.include(
      '"capabilities":["http","websocket","health","push","text-body","pipeline","handover"]',
    )
  })

  it('answers the vector /post/relay request (REQ) with an EOSE line', async () => {
    const res = await reply(frame('request'))
    expect(res.slot).to.equal(1)
    expect(res.json.id).to.equal(0)
    expect(res.json.statusCode).to.equal(200)
    expect(res.json.headers).to.deep.equal({ 'content-type': 'application/json' })
    expect(body(res)).to.equal('["EOSE","sub1"]')
    expect(relay.subscriptions('0f'.repeat(16))).to.deep.equal(['sub1'])
  })

  it('answers the vector health check with a healthy response of the same id', async () => {
    const res = await reply(frame('healthcheck'))
    expect(res.slot).to.equal(4)
    expect(res.json).to.include({ id: 1, status: 'healthy' })
    expect(res.json.services).to.deep.equal({ relay: 'active', protocol: 'connected' })
  })

  it('answers identify, poll, health, unknown relay and unknown route with legacy shapes', async () => {
    const send = (id: number, method: string, path: string, b: unknown = null) =>
      reply(
        Buffer.concat([
          Buffer.from('0100', 'hex'),
          lengthPrefixed(JSON.stringify({ id, method, path, headers: {}, body: b })),
        ]),
      )
    const identify = await send(1, 'POST', '/identify-gateway', [...Buffer.from('{}')])
    expect(JSON.parse(body(identify))).to.deep.equal({
      status: 'identified',
      relayPublicKey: WORKER_KEY.toString('hex'),
    })
    const polled = await send(2, 'GET', `/get/relay/${RELAY}/${'0f'.repeat(16)}`)
    expect(JSON.parse(body(polled))).to.deep.equal([])
    const health = await send(3, 'GET', '/health')
    expect(health.json.statusCode).to.equal(200)
    const unknown = await send(4, 'POST', `/post/relay/${'d'.repeat(64)}`, [...Buffer.from('{}')])
    expect(unknown.json.statusCode).to.equal(404)
    const route = await send(5, 'GET', '/nope')
    expect(route.json.statusCode).to.equal(404)
  })
})

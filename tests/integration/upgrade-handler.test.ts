import { createServer } from 'node:http'
import type { IncomingMessage, Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { expect } from 'chai'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { ProxyMetrics } from '../../proxy/proxy-metrics.js'
import type { Admission } from '../../proxy/session-gate.js'
import { UpgradeHandler } from '../../proxy/upgrade-handler.js'
import type { UpgradeHandlerOptions } from '../../proxy/upgrade-handler.js'
import { closeStubs, identity, stubContext } from '../helpers/session-stubs.js'
import { isNotice, rawClient } from '../helpers/ws-client.js'

describe('UpgradeHandler (gate, tunnel-or-relay-v2, refusals)', () => {
  let server: Server | null = null
  let handler: UpgradeHandler | null = null

  afterEach(async () => {
    handler?.close()
    handler = null
    if (server !== null) {
      server.closeAllConnections()
      await new Promise((resolve) => server?.close(resolve))
      server = null
    }
    await closeStubs()
  })

  // A loopback HTTP server whose upgrades go to a handler built from `overrides`.
  async function start(overrides: Partial<UpgradeHandlerOptions>) {
    const registry = new Registry()
    const metrics = new ProxyMetrics(registry)
    const { ctx, registry: sessions } = stubContext()
    handler = new UpgradeHandler({
      gate: { admit: () => Promise.reject(new Error('gate not expected')) },
      tunnelWs: { forward: () => Promise.resolve(false) },
      sessions,
      context: ctx,
      metrics,
      logger: pino({ level: 'silent' }),
      maxFrameBytes: 1 << 16,
      draining: () => false,
      ...overrides,
    })
    const h = handler
    server = createServer()
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      void h.handle(req, socket, head)
    })
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    const refused = async (code: string): Promise<number> =>
      (await metrics.sessionsRefused.get()).values.find((v) => v.labels.code === code)?.value ?? 0
    return { url: `ws://127.0.0.1:${port}/relay`, refused }
  }

  it('refuses with 1001 while draining, without asking the gate', async () => {
    let asked = 0
    const { url, refused } = await start({
      draining: () => true,
      gate: {
        admit: () => {
          asked++
          return Promise.reject(new Error('not expected'))
        },
      },
    })
    const client = await rawClient(url)
    expect(await client.closed).to.deep.equal([1001, 'gateway shutting down'])
    expect(asked).to.equal(0)
    expect(await refused('1001')).to.equal(1)
  })

  it('answers a gate that throws with 1011, not a crash', async () => {
    const { url, refused } = await start({ gate: { admit: () => Promise.reject(new Error('x')) } })
    const client = await rawClient(url)
    expect((await client.closed)[0]).to.equal(1011)
    expect(await refused('1011')).to.equal(1)
  })

  it('sends the refusal NOTICE before the close code', async () => {
    const refusal: Admission = { ok: false, code: 4403, reason: 'bad token', notice: 'auth: no' }
    const { url, refused } = await start({ gate: { admit: () => Promise.resolve(refusal) } })
    const client = await rawClient(url)
    expect(await client.closed).to.deep.equal([4403, 'bad token'])
    expect(client.messages.filter(isNotice('auth: no'))).to.have.length(1)
    expect(await refused('4403')).to.equal(1)
  })

  it('closes 1011 when the tunnel fails to start, and frees the slot once', async () => {
    let released = 0
    let freed!: () => void
    const slotFreed = new Promise<void>((resolve) => (freed = resolve))
    const admitted: Admission = {
      ok: true,
      identity: identity(['a'.repeat(64)]),
      slot: {
        release: () => {
          released++
          freed()
        },
      },
    }
    const { url, refused } = await start({
      gate: { admit: () => Promise.resolve(admitted) },
      tunnelWs: { forward: () => Promise.reject(new Error('tunnel broke')) },
    })
    const client = await rawClient(url)
    expect((await client.closed)[0]).to.equal(1011)
    expect(await refused('1011')).to.equal(1)
    await slotFreed
    expect(released).to.equal(1)
  })
})

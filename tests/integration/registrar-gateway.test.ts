import { expect } from 'chai'
import { MemoryStore } from '../../shared/store/memory-store.js'
import { fetchGatewayDocument } from '../../shared/worker/gateway-document.js'
import type { GatewayDocument } from '../../shared/worker/gateway-document.js'
import { RegistrarClient } from '../../shared/worker/registrar-client.js'
import { ManualClock, SECRET, hexKey, startRegistrar } from '../helpers/registrar-harness.js'
import type { RegistrarHarness } from '../helpers/registrar-harness.js'

describe('registrar gateway document (GET /api/gateway, registration answer)', () => {
  let h: RegistrarHarness | undefined
  let store: MemoryStore
  let url: string
  const clients: RegistrarClient[] = []

  async function start(gateway?: GatewayDocument): Promise<void> {
    const clock = new ManualClock(Date.now())
    store = new MemoryStore({ now: clock.now })
    h = startRegistrar({ store, clock, options: gateway === undefined ? {} : { gateway } })
    url = (await h.server.listen()).url
  }

  function client(): RegistrarClient {
    const c = new RegistrarClient({ registrarUrl: url, secret: SECRET })
    clients.push(c)
    return c
  }

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()))
    await h?.close()
    await store.close()
  })

  it('publishes the gateway keys and relays, and a kit worker reads them from the answer', async () => {
    const doc: GatewayDocument = {
      version: 1,
      gatewayKeys: [hexKey(), hexKey()],
      relays: [hexKey()],
    }
    await start(doc)
    expect(await fetchGatewayDocument(url)).to.deep.equal(doc)
    const answer = await client().register({ relayKey: hexKey(), peers: [hexKey()] })
    expect(answer.gateway).to.deep.equal(doc)
  })

  it('without gateway keys answers registrations in the legacy shape only', async () => {
    await start()
    expect(await fetchGatewayDocument(url)).to.deep.equal({
      version: 1,
      gatewayKeys: [],
      relays: [],
    })
    const answer = await client().register({ relayKey: hexKey(), peers: [hexKey()] })
    expect(answer).to.not.have.property('gateway')
  })
})

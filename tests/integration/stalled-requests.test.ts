import { expect } from 'chai'
import { once } from 'node:events'
import { connect } from 'node:net'
import { MemoryStore } from '../../shared/store/memory-store.js'
import { SERVER_TIMEOUTS } from '../../shared/process/server-timeouts.js'
import { ManualClock, startRegistrar } from '../helpers/registrar-harness.js'
import type { RegistrarHarness } from '../helpers/registrar-harness.js'
import { startProxyStack } from '../helpers/proxy-stack.js'
import type { ProxyStack } from '../helpers/proxy-stack.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'

// Half a request head, then silence: the server must cut the connection by itself.
async function stall(port: number, head: string): Promise<number> {
  const socket = connect({ host: '127.0.0.1', port })
  socket.on('error', () => {})
  socket.on('data', () => {})
  await once(socket, 'connect')
  const started = Date.now()
  socket.write(head)
  await once(socket, 'close')
  return Date.now() - started
}

const HALF_UPGRADE =
  'GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Ke'

describe('stalled requests on both servers (issue 9.8)', function () {
  this.timeout(20_000)
  let testnet: LocalTestnet
  let stack: ProxyStack
  let registrar: RegistrarHarness

  before(async () => {
    testnet = await startTestnet(3)
    stack = await startProxyStack(testnet)
    registrar = startRegistrar({ store: new MemoryStore(), clock: new ManualClock() })
    await registrar.server.listen()
  })

  after(async () => {
    await registrar?.close()
    await stack?.close()
    await testnet?.destroy()
  })

  it('closes a half-sent upgrade (proxy) and a half-sent POST (registrar) within 15 s', async () => {
    expect(SERVER_TIMEOUTS.headersTimeout).to.be.at.most(15_000)
    const registrarPort = registrar.server.address?.port ?? 0
    const [proxyMs, registrarMs, bodyMs] = await Promise.all([
      stall(stack.port, HALF_UPGRADE),
      stall(registrarPort, 'POST /api/relays HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty'),
      // Head complete, body promised and never sent: requestTimeout.
      stall(
        registrarPort,
        'POST /api/relays HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
          'Content-Length: 100\r\n\r\n{"a":',
      ),
    ])
    for (const ms of [proxyMs, registrarMs, bodyMs]) expect(ms).to.be.below(15_000)
  })
})

import { expect } from 'chai'
import { pino } from 'pino'
import { issueClientToken } from '../../shared/auth/client-token.js'
import { RegistrarClient } from '../../shared/worker/registrar-client.js'
import { listeningPort, loopbackEnv, spawnGateway } from '../helpers/gateway-process.js'
import type { GatewayProcess } from '../helpers/gateway-process.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import { startWorker } from '../helpers/worker.js'
import type { TestWorker } from '../helpers/worker.js'
import { rawClient } from '../helpers/ws-client.js'

const SECRET = 'start-metrics-secret-0123456789abcdef'

async function poolPeers(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  const peers = new Map<string, number>()
  for (const m of text.matchAll(/^hypertuna_gateway_pool_peers\{state="(\w+)"\} (\d+)$/gm)) {
    peers.set(m[1] as string, Number(m[2]))
  }
  return peers
}

// The chaos run once reported no pool series on this process. They are there from the start;
// what a registration alone does not bring is a ready peer: the pool dials on first use.
describe('the stock `npm start` gateway (scripts/start.js) exposes the pool on /metrics', function () {
  this.timeout(60_000)
  let testnet: LocalTestnet
  let worker: TestWorker
  let gateway: GatewayProcess
  let registrar: RegistrarClient | null = null

  before(async () => {
    testnet = await startTestnet()
    worker = await startWorker(testnet)
    gateway = spawnGateway('scripts/start.js', {
      ...loopbackEnv(testnet.bootstrap),
      GATEWAY_REGISTRATION_SECRET: SECRET,
    })
  })

  after(async () => {
    await registrar?.close()
    await gateway?.kill('SIGKILL')
    await worker?.close()
    await testnet?.destroy()
  })

  it('from start-up, and counts the worker a session dialled as ready', async () => {
    const proxyPort = await listeningPort(gateway, 'proxy')
    // The registrar's line ends in its URL with a trailing slash.
    const line = await gateway.waitForLog(
      (l) => typeof l.msg === 'string' && l.msg.startsWith('registrar listening on http://'),
    )
    const registrarUrl = (line.msg as string).slice('registrar listening on '.length)
    const states = ['connecting', 'ready', 'unhealthy', 'down']
    expect([...(await poolPeers(proxyPort)).keys()].sort()).to.deep.equal([...states].sort())

    registrar = new RegistrarClient({
      registrarUrl,
      secret: SECRET,
      logger: pino({ level: 'silent' }),
    })
    await registrar.register({ relayKey: worker.relayKey, peers: [worker.publicKey] })
    const token = issueClientToken(SECRET, { relayKey: worker.relayKey, ttlMs: 60_000 })
    const c = await rawClient(`ws://127.0.0.1:${proxyPort}/${worker.relayKey}?token=${token}`)
    c.send(['REQ', 's', { kinds: [1] }])
    await c.next((m) => Array.isArray(m) && m[0] === 'EOSE')
    // Gauges are read at scrape time: the session's link is ready by the time of its EOSE.
    expect((await poolPeers(proxyPort)).get('ready')).to.equal(1)
    c.ws.close()
  })
})

import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { startProxyStack } from '../helpers/proxy-stack.js'
import type { ProxyStack } from '../helpers/proxy-stack.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import { startWorker } from '../helpers/worker.js'
import type { TestWorker } from '../helpers/worker.js'
import { rawClient } from '../helpers/ws-client.js'
import { rawUpgrade, RESERVED_OPCODE_FRAME } from './raw-ws.js'

// Issue 9.1: a refused upgrade followed by one malformed frame made `ws` emit `error` on a
// socket nobody listened on, and the process exited. Mocha fails the running test on any
// uncaught exception, so reaching the bystander check means the process survived.
describe('refused and 1013 upgrades followed by a malformed frame', function () {
  this.timeout(30_000)
  let testnet: LocalTestnet
  let worker: TestWorker
  let stack: ProxyStack

  before(async () => {
    testnet = await startTestnet()
    worker = await startWorker(testnet)
    stack = await startProxyStack(testnet)
    await stack.register(worker.relayKey, [worker.publicKey])
  })

  after(async () => {
    await stack?.close()
    await worker?.close()
    await testnet?.destroy()
  })

  async function bystanderServed(): Promise<void> {
    const c = await rawClient(stack.url(worker.relayKey, stack.token(worker.relayKey)))
    c.send(['REQ', 'bystander', { limit: 1 }])
    expect(await c.next((m) => Array.isArray(m) && m[0] === 'EOSE')).to.deep.equal([
      'EOSE',
      'bystander',
    ])
    c.ws.close()
    await c.closed
  }

  const cases: Array<[string, () => string | Promise<string>]> = [
    ["no token (the issue's /x)", () => '/x'],
    ['a bad token', () => `/${worker.relayKey}?token=not-a-token`],
    [
      'an unknown relay',
      () => {
        const unknown = randomBytes(32).toString('hex')
        return `/${unknown}?token=${stack.token(unknown)}`
      },
    ],
    [
      'no worker (1013)',
      async () => {
        const lonely = randomBytes(32).toString('hex')
        await stack.register(lonely, [randomBytes(32).toString('hex')])
        return `/${lonely}?token=${stack.token(lonely)}`
      },
    ],
  ]

  for (const [name, path] of cases) {
    it(`survives a reserved-opcode frame after ${name}`, async () => {
      const raw = await rawUpgrade(stack.port, await path())
      expect(raw.status).to.equal('HTTP/1.1 101 Switching Protocols')
      raw.write(RESERVED_OPCODE_FRAME)
      await raw.closed
      await bystanderServed()
    })
  }
})

import { expect } from 'chai'
import { mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import type { Page } from 'puppeteer-core'
import { ExampleRelay } from '../../shared/worker/example-relay.js'
import { RelayHost } from '../../shared/worker/relay-host.js'
import { launchChromium } from '../helpers/chromium.js'
import { startProxyStack } from '../helpers/proxy-stack.js'
import type { ProxyStack } from '../helpers/proxy-stack.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'

/** Where screenshots are kept after the run (a test artifact). */
export const ARTIFACTS = join(tmpdir(), 'hypertuna-gateway-artifacts')

describe('pages in a real browser (chromium via puppeteer-core)', function () {
  this.timeout(60_000)
  let testnet: LocalTestnet
  let stack: ProxyStack
  let host: RelayHost
  let example: ExampleRelay
  let chromium: Awaited<ReturnType<typeof launchChromium>>
  let page: Page
  const online = randomBytes(32).toString('hex')
  const offline = randomBytes(32).toString('hex')

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true })
    testnet = await startTestnet()
    stack = await startProxyStack(testnet)
    example = new ExampleRelay()
    host = new RelayHost({
      swarm: testnet.createSwarm(),
      logger: pino({ level: 'silent' }),
      relays: [
        {
          relayKey: online,
          backend: example,
          info: () => ({
            name: 'Tuna <b>relay</b>',
            description: 'A relay for the browser test',
            software: 'example-relay',
            version: '1.2.3',
            supported_nips: [1, 11],
            limitation: { auth_required: false, max_message_length: 65536 },
          }),
        },
      ],
    })
    await host.start()
    await stack.register(online, [host.publicKey], { name: 'Registered name' })
    // A worker key no one serves: its page must say so.
    await stack.register(offline, [randomBytes(32).toString('hex')], { name: 'Gone relay' })
    chromium = await launchChromium()
    page = await chromium.browser.newPage()
  })

  after(async () => {
    await chromium?.close()
    await host?.close()
    example?.close()
    await stack?.close()
    await testnet?.destroy()
  })

  const base = () => `http://127.0.0.1:${stack.port}`
  const textOf = (selector: string) =>
    page.$eval(selector, (el) => (el as unknown as { textContent: string }).textContent.trim())

  it("a relay's page says its worker is reachable, shows the share-URL form and NIP-11 facts", async () => {
    const token = stack.token(online)
    const res = await page.goto(`${base()}/${online}?token=${encodeURIComponent(token)}`)
    expect(res?.status()).to.equal(200)
    expect(await textOf('#relay-name')).to.equal('Tuna <b>relay</b>')
    expect(await textOf('#relay-description')).to.equal('A relay for the browser test')
    expect(await textOf('#worker-status')).to.contain('reachable: its worker is online')
    expect(await textOf('#share-url')).to.equal(
      `ws://127.0.0.1:${stack.port}/${online}?token=<your token>`,
    )
    expect(await textOf('#nip11-software')).to.equal('example-relay 1.2.3')
    expect(await textOf('#nip11-nips')).to.equal('1, 11')
    // The gateway always needs a token, whatever the worker says (NIP-11 limitation merge).
    expect(await textOf('#nip11-auth')).to.equal('required')
    expect(await textOf('#nip11-max-message')).to.match(/^\d+ bytes$/)
    const html = await page.content()
    expect(html).not.to.contain(token)
    expect(html).not.to.contain(token.split('.')[1] as string)
    await page.screenshot({ path: join(ARTIFACTS, 'relay-page.png') })
  })

  it('an offline relay is shown as not reachable', async () => {
    await page.goto(`${base()}/${offline}`)
    expect(await textOf('#worker-status')).to.contain('not reachable')
    expect(await textOf('#relay-name')).to.equal('Gone relay')
  })

  it('/ is a status page: gateway health and relays online', async () => {
    const res = await page.goto(`${base()}/`)
    expect(res?.status()).to.equal(200)
    expect(await textOf('h1')).to.equal('Hypertuna gateway')
    expect(await textOf('#gateway-health')).to.equal('up')
    expect(await textOf('#store-health')).to.equal('reachable')
    expect(await textOf('#relays-online')).to.equal('1 of 2 registered')
    expect(await page.content()).not.to.contain(online)
    await page.screenshot({ path: join(ARTIFACTS, 'status-page.png') })
  })
})

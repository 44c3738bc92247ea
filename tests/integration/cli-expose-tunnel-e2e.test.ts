import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { RateLimiterMemory } from 'rate-limiter-flexible'
import { RegistrarServer } from '../../registrar/registrar-server.js'
import type { RegistrarAddress } from '../../registrar/registrar-server.js'
import { MemoryStore } from '../../shared/store/memory-store.js'
import { download, fileRangeSha256, writePatternFile } from '../helpers/big-file.js'
import type { PatternFile } from '../helpers/big-file.js'
import { LOOPBACK, loopbackLookup, startCaddy } from '../helpers/caddy.js'
import type { TestCaddy } from '../helpers/caddy.js'
import { startCli, startCoreRelay } from '../helpers/cli-process.js'
import type { CliChild, CoreRelay } from '../helpers/cli-process.js'
import { connectRelay, requestBinary } from '../helpers/edge-client.js'
import { collect } from '../helpers/nostr-client.js'
import { note } from '../helpers/nostr.js'
import { SECRET, startProxyStack } from '../helpers/proxy-stack.js'
import type { ProxyStack } from '../helpers/proxy-stack.js'
import { BASE_OPTIONS } from '../helpers/registrar-harness.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'

describe('hypertuna-gateway expose --mode tunnel: relay and files as byte streams, through Caddy', function () {
  this.timeout(90_000)
  let testnet: LocalTestnet
  let store: MemoryStore
  let registrar: RegistrarServer
  let api: RegistrarAddress
  let stack: ProxyStack
  let caddy: TestCaddy
  let relay: CoreRelay
  let expose: CliChild
  let dir: string
  let file: PatternFile
  let registered: Record<string, unknown>
  const relayKey = randomBytes(32).toString('hex')
  const opened: string[] = []

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gateway-cli-tunnel-'))
    writeFileSync(join(dir, 'secret'), `${SECRET}\n`)
    const files = join(dir, 'files')
    mkdirSync(join(files, 'pfp'), { recursive: true })
    writeFileSync(join(files, 'pfp', 'me.png'), 'an avatar')
    file = await writePatternFile(join(files, 'video.bin'), 12 * 1024 * 1024 + 3)
    testnet = await startTestnet()
    store = new MemoryStore()
    stack = await startProxyStack(testnet, { store })
    stack.proxy.tunnels.on('open', (_peer: string, service: string) => opened.push(service))
    registrar = new RegistrarServer(
      { ...BASE_OPTIONS, secret: SECRET },
      {
        logger: pino({ level: 'silent' }),
        registry: new Registry(),
        store,
        rateLimiter: new RateLimiterMemory({ points: 1_000, duration: 60 }),
      },
    )
    api = await registrar.listen()
    caddy = await startCaddy({
      env: {
        GATEWAY_PROXY_UPSTREAMS: `${LOOPBACK}:${stack.port}`,
        GATEWAY_REGISTRAR_UPSTREAMS: `${LOOPBACK}:${api.port}`,
      },
    })
    relay = await startCoreRelay()
    const bootstrap = testnet.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
    expose = startCli(
      [
        'expose',
        relay.url,
        '--mode',
        'tunnel',
        '--files',
        files,
        '--gateway',
        caddy.origin,
        '--secret-file',
        join(dir, 'secret'),
        '--relay-key',
        relayKey,
        '--bootstrap',
        bootstrap,
        '--host',
        LOOPBACK,
        '--json',
      ],
      { NODE_EXTRA_CA_CERTS: caddy.caPath },
    )
    registered = await expose.waitFor((l) => l.event === 'registered', 60_000)
  })

  after(async () => {
    await expose?.stop('SIGKILL')
    await relay?.stop()
    await caddy?.stop()
    await stack?.close()
    await registrar?.close()
    await store?.close()
    await testnet?.destroy()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('registers, says what it tunnels, and checks the share URL end to end', async () => {
    expect(registered.relayKey).to.equal(relayKey)
    const checked = await expose.waitFor((l) => l.event === 'checked', 60_000)
    expect(checked.ok).to.equal(true)
    expect(expose.stderr()).to.match(
      /tunnel mode: relay 127\.0\.0\.1:\d+, HTTP files from .* on 127\.0\.0\.1:\d+/,
    )
  })

  it('carries a nostr-tools session over wss:// to the relay itself: publish, EOSE, live event', async () => {
    const shareUrl = registered.shareUrl as string
    const wsTunnels = () => opened.filter((s) => s === `ws:${relayKey}`).length
    const before = wsTunnels()
    const tag = `tunnel-${randomBytes(4).toString('hex')}`
    const reader = await connectRelay(shareUrl, { ca: caddy.ca })
    const writer = await connectRelay(shareUrl, { ca: caddy.ca })
    try {
      const stored = note('stored through a tunnel', [['t', tag]])
      await writer.publish(stored)
      const sub = collect(reader, [{ kinds: [1], '#t': [tag] }])
      await sub.eose
      expect(sub.events.map((e) => e.id)).to.deep.equal([stored.id])
      const live = note('live through a tunnel', [['t', tag]])
      const arrival = sub.next((e) => e.id === live.id)
      await writer.publish(live)
      expect((await arrival).id).to.equal(live.id)
      // Both sessions were byte streams to the relay, not relay-v2 messages.
      expect(wsTunnels() - before).to.equal(2)
      expect(stack.proxy.sessions.size).to.equal(0)
      const status = await expose.waitFor(
        (l) => l.event === 'status' && (l.tunnels as number) >= 2,
        15_000,
      )
      expect(status.gatewayLinks).to.be.at.least(1)
    } finally {
      reader.close()
      writer.close()
    }
  })

  it('streams a /drive file and a Range of it through Caddy and the tunnel, and /pfp', async () => {
    const url = `${caddy.origin}/drive/${relayKey}/video.bin`
    const tls = { ca: caddy.ca, lookup: loopbackLookup }
    const whole = await download(url, tls)
    expect(whole.status).to.equal(200)
    expect(whole.sha256).to.equal(file.sha256)
    const [start, end] = [5_000_001, 9_999_999]
    const part = await download(url, { ...tls, headers: { range: `bytes=${start}-${end}` } })
    expect(part.status).to.equal(206)
    expect(part.sha256).to.equal(await fileRangeSha256(file.path, start, end))
    expect(opened).to.include(`http:${relayKey}`)
    const avatar = await requestBinary(`${caddy.origin}/pfp/me.png?relay=${relayKey}`, {
      ca: caddy.ca,
    })
    expect(avatar.status).to.equal(200)
    expect(avatar.body.toString()).to.equal('an avatar')
  })

  it('unregisters on Ctrl-C (SIGINT) and exits 0', async () => {
    expect(await store.getRegistration(relayKey)).not.to.equal(null)
    expect(await expose.stop('SIGINT')).to.equal(0)
    const stopped = await expose.waitFor((l) => l.event === 'stopped', 1_000)
    expect(stopped).to.include({ signal: 'SIGINT', unregistered: true })
    expect(await store.getRegistration(relayKey)).to.equal(null)
  })
})

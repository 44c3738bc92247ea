import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { MemoryStore } from '../../shared/store/memory-store.js'
import { download, fileRangeSha256, writePatternFile } from '../helpers/big-file.js'
import type { PatternFile } from '../helpers/big-file.js'
import { loopbackLookup } from '../helpers/caddy.js'
import type { TestCaddy } from '../helpers/caddy.js'
import type { CliChild } from '../helpers/cli-process.js'
import { connectRelay, requestBinary } from '../helpers/edge-client.js'
import { collect } from '../helpers/nostr-client.js'
import { note } from '../helpers/nostr.js'
import type { ProxyStack } from '../helpers/proxy-stack.js'
import { startExposeStack } from '../helpers/expose-stack.js'
import type { ExposeStack } from '../helpers/expose-stack.js'

describe('hypertuna-gateway expose --mode tunnel: relay and files as byte streams, through Caddy', function () {
  this.timeout(90_000)
  let e: ExposeStack
  let file: PatternFile
  const opened: string[] = []
  // Read by the tests once `before` has run.
  let caddy: TestCaddy
  let store: MemoryStore
  let stack: ProxyStack
  let expose: CliChild
  let registered: Record<string, unknown>
  let relayKey: string

  before(async () => {
    e = await startExposeStack({
      dirPrefix: 'gateway-cli-tunnel-',
      prepare: async (dir) => {
        const files = join(dir, 'files')
        mkdirSync(join(files, 'pfp'), { recursive: true })
        writeFileSync(join(files, 'pfp', 'me.png'), 'an avatar')
        file = await writePatternFile(join(files, 'video.bin'), 12 * 1024 * 1024 + 3)
      },
      withProxy: (proxy) => {
        proxy.proxy.tunnels.on('open', (_peer: string, service: string) => opened.push(service))
      },
      args: (dir) => ['--mode', 'tunnel', '--files', join(dir, 'files')],
    })
    ;({ caddy, store, stack, expose, registered, relayKey } = e)
  })

  after(async () => {
    await e?.close()
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

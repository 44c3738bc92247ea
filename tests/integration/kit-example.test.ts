import { expect } from 'chai'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { RateLimiterMemory } from 'rate-limiter-flexible'
import { RegistrarServer } from '../../registrar/registrar-server.js'
import { connectRelay } from '../helpers/edge-client.js'
import { collect } from '../helpers/nostr-client.js'
import { note } from '../helpers/nostr.js'
import { SECRET, startProxyStack } from '../helpers/proxy-stack.js'
import type { ProxyStack } from '../helpers/proxy-stack.js'
import { BASE_OPTIONS } from '../helpers/registrar-harness.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))

describe('the kit as a library', function () {
  this.timeout(60_000)

  it('resolves every entry of the exports map by package name, with its .d.ts', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      private?: boolean
      bin: Record<string, string>
      exports: Record<string, string | { types: string; default: string }>
    }
    expect(pkg.private).to.equal(undefined)
    for (const [entry, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') continue
      expect(existsSync(join(ROOT, target.types)), `${entry} types`).to.equal(true)
      expect(existsSync(join(ROOT, target.default)), `${entry} module`).to.equal(true)
    }
    const worker = (await import('hypertuna-gateway/worker')) as Record<string, unknown>
    for (const name of ['RelayHost', 'RegistrarClient', 'WsRelayBackend', 'ExampleRelay']) {
      expect(worker[name], name).to.be.a('function')
    }
    const proxy = (await import('hypertuna-gateway/proxy')) as Record<string, unknown>
    expect(proxy.buildProxy).to.be.a('function')
    const registrar = (await import('hypertuna-gateway/registrar')) as Record<string, unknown>
    expect(registrar.buildRegistrar).to.be.a('function')
    const bin = readFileSync(join(ROOT, pkg.bin['hypertuna-gateway'] as string), 'utf8')
    expect(bin.startsWith('#!/usr/bin/env node')).to.equal(true)
  })

  describe('examples/my-worker', () => {
    let testnet: LocalTestnet
    let stack: ProxyStack
    let registrar: RegistrarServer
    let dir: string

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'gateway-example-'))
      writeFileSync(join(dir, 'secret'), SECRET)
      testnet = await startTestnet()
      stack = await startProxyStack(testnet)
      registrar = new RegistrarServer(
        // No Caddy here: the registrar reports the proxy as the public URL.
        { ...BASE_OPTIONS, secret: SECRET, publicUrl: `http://127.0.0.1:${stack.port}` },
        {
          logger: pino({ level: 'silent' }),
          registry: new Registry(),
          store: stack.store,
          rateLimiter: new RateLimiterMemory({ points: 1_000, duration: 60 }),
        },
      )
      await registrar.listen()
    })

    after(async () => {
      await registrar?.close()
      await stack?.close()
      await testnet?.destroy()
      rmSync(dir, { recursive: true, force: true })
    })

    it('registers, serves a Nostr client through the proxy and unregisters on SIGINT', async () => {
      const child = spawn(process.execPath, [join(ROOT, 'dist/examples/my-worker.js')], {
        env: {
          PATH: process.env.PATH ?? '',
          GATEWAY_URL: registrar.address?.url ?? '',
          SECRET_FILE: join(dir, 'secret'),
          BOOTSTRAP: testnet.bootstrap.map((b) => `${b.host}:${b.port}`).join(','),
          DHT_HOST: '127.0.0.1',
        },
      })
      let out = ''
      const lines: Array<(text: string) => void> = []
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString()
        for (const l of lines) l(out)
      })
      const line = (re: RegExp) =>
        new Promise<string>((resolve, reject) => {
          const check = (text: string) => {
            const m = re.exec(text)
            if (m !== null) resolve(m[0])
          }
          lines.push(check)
          check(out)
          child.once('close', () => reject(new Error(`example exited:\n${out}`)))
        })
      try {
        const shareUrl = await line(/^ws:\/\/\S+$/m)
        const relayKey = new URL(shareUrl).pathname.slice(1)
        expect(await stack.store.getRegistration(relayKey)).not.to.equal(null)
        const relay = await connectRelay(shareUrl)
        try {
          const stored = note('from the example')
          await relay.publish(stored)
          const sub = collect(relay, [{ kinds: [1] }])
          await sub.eose
          expect(sub.events.map((e) => e.id)).to.deep.equal([stored.id])
          const live = note('live')
          const arrival = sub.next((e) => e.id === live.id)
          await relay.publish(live)
          expect((await arrival).id).to.equal(live.id)
        } finally {
          relay.close()
        }
        const exited = new Promise<number | null>((resolve) => child.once('close', resolve))
        child.kill('SIGINT')
        await line(/^unregistered$/m)
        expect(await exited).to.equal(0)
        expect(await stack.store.getRegistration(relayKey)).to.equal(null)
      } finally {
        child.kill('SIGKILL')
      }
    })
  })
})

import { expect } from 'chai'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { ProxyReporter } from '../../proxy/proxy-reporter.js'
import type { MemoryStore } from '../../shared/store/memory-store.js'
import { LOOPBACK } from '../helpers/caddy.js'
import type { TestCaddy } from '../helpers/caddy.js'
import { runCli } from '../helpers/cli-process.js'
import type { CliChild } from '../helpers/cli-process.js'
import { connectRelay } from '../helpers/edge-client.js'
import { collect } from '../helpers/nostr-client.js'
import { note } from '../helpers/nostr.js'
import { waitUntil } from '../helpers/wait-until.js'
import { startExposeStack } from '../helpers/expose-stack.js'
import type { ExposeStack } from '../helpers/expose-stack.js'

const ADMIN_TOKEN = 'e2e-admin-token-0123456789abcdefghij'

// Both ways a worker's link comes up. With --dial-out the pool also dials the worker, so its
// link is replaced by the worker's own once that arrives; a push must survive the switch.
for (const dialOut of [false, true]) {
  describe(`hypertuna-gateway expose${dialOut ? ' --dial-out' : ''}: a relay no one here wrote, through Caddy`, function () {
    this.timeout(90_000)
    let e: ExposeStack
    let reporter: ProxyReporter | undefined
    // Read by the tests once `before` has run.
    let caddy: TestCaddy
    let store: MemoryStore
    let expose: CliChild
    let registered: Record<string, unknown>
    let relayKey: string

    before(async () => {
      e = await startExposeStack({
        dirPrefix: 'gateway-cli-e2e-',
        prepare: (dir) => writeFileSync(join(dir, 'admin'), `${ADMIN_TOKEN}\n`),
        registrar: (stack) => ({
          adminToken: ADMIN_TOKEN,
          // As GET /api/gateway publishes it; expose dials out only with --dial-out.
          gateway: { version: 1, gatewayKeys: [stack.pool.publicKey], relays: [] },
        }),
        withProxy: (stack, store) => {
          reporter = new ProxyReporter({
            pool: stack.pool,
            sessions: stack.proxy.sessions,
            store,
            logger: pino({ level: 'silent' }),
            intervalMs: 200,
          })
          reporter.start()
          return () => reporter?.close()
        },
        args: () => (dialOut ? ['--dial-out'] : []),
      })
      ;({ caddy, store, expose, registered, relayKey } = e)
    })

    after(async () => {
      await e?.close()
    })

    it('prints the wss:// share URL on the public URL the registrar reports, and checks it', async () => {
      expect(registered.relayKey).to.equal(relayKey)
      expect(registered.publicUrl).to.equal(caddy.origin)
      const url = new URL(registered.shareUrl as string)
      expect(url.protocol).to.equal('wss:')
      expect(url.host).to.equal(new URL(caddy.origin).host)
      expect(url.pathname).to.equal(`/${relayKey}`)
      expect(url.searchParams.get('token')).to.be.a('string')
      const checked = await expose.waitFor((l) => l.event === 'checked', 60_000)
      expect(checked.ok).to.equal(true)
      expect(expose.stderr()).to.contain('joining')
      expect(expose.stderr()).to.contain('registering relay')
      if (dialOut) expect(expose.stderr()).to.contain('dialling out')
      else expect(expose.stderr()).not.to.contain('dialling out')
    })

    it('publishes, subscribes and delivers live events through the printed URL', async () => {
      const shareUrl = registered.shareUrl as string
      const tag = `cli-${randomBytes(4).toString('hex')}`
      const reader = await connectRelay(shareUrl, { ca: caddy.ca })
      const writer = await connectRelay(shareUrl, { ca: caddy.ca })
      try {
        const stored = note('stored through expose', [['t', tag]])
        await writer.publish(stored)
        const sub = collect(reader, [{ kinds: [1], '#t': [tag] }])
        await sub.eose
        expect(sub.events.map((e) => e.id)).to.deep.equal([stored.id])
        const live = note('live through expose', [['t', tag]])
        const arrival = sub.next((e) => e.id === live.id)
        await writer.publish(live)
        expect((await arrival).id).to.equal(live.id)

        // The live status line counts the sessions the worker holds to the local relay.
        const status = await expose.waitFor(
          (l) => l.event === 'status' && (l.sessions as number) >= 2,
          15_000,
        )
        expect(status.gatewayLinks).to.be.at.least(1)
        expect(status.registration).to.equal('ok')

        // The admin API shows the peer as the proxy reports it, and the live sessions.
        await waitUntil(
          async () => {
            const shown = await runCli([
              'relay',
              'show',
              relayKey,
              '--gateway',
              `http://${LOOPBACK}:${e.api.port}`,
              '--admin-token-file',
              join(e.dir, 'admin'),
              '--json',
            ])
            const detail = shown.json[0] as {
              peers?: Array<{ reachable: boolean }>
              sessions?: { total: number }
            }
            return detail.peers?.[0]?.reachable === true && (detail.sessions?.total ?? 0) >= 2
          },
          { timeoutMs: 15_000, intervalMs: 250, what: 'relay show: reachable worker, 2 sessions' },
        )
      } finally {
        reader.close()
        writer.close()
      }
    })

    it('unregisters on Ctrl-C (SIGINT) and exits 0', async () => {
      expect(await store.getRegistration(relayKey)).not.to.equal(null)
      const code = await expose.stop('SIGINT')
      expect(code).to.equal(0)
      const stopped = await expose.waitFor((l) => l.event === 'stopped', 1_000)
      expect(stopped).to.include({ signal: 'SIGINT', unregistered: true })
      expect(await store.getRegistration(relayKey)).to.equal(null)
    })
  })
}

import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { request } from 'node:http'
import { issueClientToken } from '../../shared/auth/client-token.js'
import { loadConfig } from '../../shared/config/load-config.js'
import { proxyServerOptions } from '../../proxy/proxy-options.js'
import { collect, Relay } from '../helpers/nostr-client.js'
import { note } from '../helpers/nostr.js'
import { SECRET, startProxyStack } from '../helpers/proxy-stack.js'
import type { ProxyStack } from '../helpers/proxy-stack.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import { startWorker } from '../helpers/worker.js'
import type { TestWorker } from '../helpers/worker.js'
import { waitUntil } from '../helpers/wait-until.js'

const PUBKEY = 'ab'.repeat(32)

describe('proxy limits keyed on who is sending, and per-user tokens (nostr-tools)', function () {
  this.timeout(60_000)
  let testnet: LocalTestnet
  let worker: TestWorker
  let recorder: TestWorker
  let stack: ProxyStack
  let relayKey: string
  // Every x-auth-token the recording worker was handed (it serves the per-user token test only).
  const seen: Array<string | undefined> = []

  before(async () => {
    testnet = await startTestnet()
    worker = await startWorker(testnet)
    recorder = await startWorker(testnet, {
      verifyToken: (token) => {
        seen.push(token)
        return true
      },
    })
    relayKey = worker.relayKey
    // The limits a deployment gets by default, not the test stack's.
    const { limits } = proxyServerOptions(loadConfig({ env: {} }))
    stack = await startProxyStack(testnet, { limits })
    await stack.register(relayKey, [worker.publicKey])
    await stack.register(recorder.relayKey, [recorder.publicKey])
  })

  after(async () => {
    await stack.close()
    await worker.close()
    await recorder.close()
    await testnet.destroy()
  })

  it('serves 50 sessions on one share token from one IP with the default limits', async () => {
    const token = stack.token(relayKey)
    const relays = await Promise.all(
      Array.from({ length: 50 }, () => Relay.connect(stack.url(relayKey, token))),
    )
    try {
      await Promise.all(relays.map((r) => collect(r, [{ kinds: [1], limit: 1 }]).eose))
      expect(stack.proxy.sessions.size).to.equal(50)
    } finally {
      for (const r of relays) r.close()
    }
    await waitUntil(() => stack.proxy.sessions.size === 0, { what: 'sessions closed' })
  })

  it('hands the worker the relayAuthToken of a per-user token, and a plain token itself', async () => {
    const relayKey = recorder.relayKey
    const personal = issueClientToken(SECRET, {
      relayKey,
      ttlMs: 60_000,
      pubkey: PUBKEY,
      relayAuthToken: 'worker-credential-for-ab',
    })
    const plain = stack.token(relayKey)
    for (const token of [personal, plain]) {
      const relay = await Relay.connect(stack.url(relayKey, token))
      await relay.publish(note('per-user token test'))
      await collect(relay, [{ kinds: [1], limit: 1 }]).eose
      relay.close()
    }
    // Requests of both sessions may still be arriving (CLOSE on leave): order does not matter.
    expect(seen).to.include('worker-credential-for-ab')
    expect(seen).to.include(plain)
    expect(seen).to.not.include(personal)
  })

  it('frees the slot of an upgrade the WebSocket handshake then aborts', async () => {
    const strict = await startProxyStack(testnet, { limits: { maxSessionsPerIp: 1 } })
    try {
      await strict.register(relayKey, [worker.publicKey])
      const token = strict.token(relayKey)
      // Admitted by the gate (token, relay, limits), then refused by ws: version 99.
      const status = await new Promise<number>((resolve, reject) => {
        const req = request({
          host: '127.0.0.1',
          port: strict.port,
          path: `/${relayKey}?token=${token}`,
          headers: {
            connection: 'Upgrade',
            upgrade: 'websocket',
            'sec-websocket-version': '99',
            'sec-websocket-key': randomBytes(16).toString('base64'),
          },
        })
        req.on('response', (res) => {
          res.resume()
          resolve(res.statusCode ?? 0)
        })
        req.on('error', reject)
        req.end()
      })
      expect(status).to.equal(400)
      // The only place this IP has is free again once that socket is gone.
      await waitUntil(
        async () => {
          const relay = await Relay.connect(strict.url(relayKey, token)).catch(() => null)
          if (relay === null) return false
          const served = await Promise.race([
            collect(relay, [{ kinds: [1], limit: 1 }]).eose.then(() => true),
            new Promise<boolean>((resolve) => (relay.onclose = () => resolve(false))),
          ])
          relay.close()
          return served
        },
        { timeoutMs: 5_000, what: 'a session served after the aborted handshake' },
      )
    } finally {
      await strict.close()
    }
  })
})

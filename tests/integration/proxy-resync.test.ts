import { expect } from 'chai'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import { RedisStore } from '../../shared/store/redis-store.js'
import { startProxyStack } from '../helpers/proxy-stack.js'
import { startRedis } from '../helpers/redis-server.js'
import { startTestnet } from '../helpers/testnet.js'
import { startWorker } from '../helpers/worker.js'
import { rawClient } from '../helpers/ws-client.js'

describe('proxy after a change-feed gap', function () {
  this.timeout(30_000)

  it('closes a session whose token was revoked while its feed connection was down', async () => {
    const testnet = await startTestnet()
    const redis = await startRedis()
    const logger = pino({ level: 'silent' })
    const proxyStore = new RedisStore({ url: redis.url, prefix: 'gap:', logger })
    const writer = new RedisStore({ url: redis.url, prefix: 'gap:', logger })
    const admin = new Redis(redis.url)
    const worker = await startWorker(testnet)
    const stack = await startProxyStack(testnet, { store: proxyStore })
    try {
      await Promise.all([proxyStore.ping(), writer.ping()])
      await stack.register(worker.relayKey, [worker.publicKey])
      const c = await rawClient(stack.url(worker.relayKey, stack.token(worker.relayKey)))
      c.send(['REQ', 's', { kinds: [1] }])
      await c.next((m) => Array.isArray(m) && m[0] === 'EOSE')

      // Drop every subscriber connection, then revoke before they are back: the
      // announcement goes to nobody, and only the resync can catch it.
      const resynced = new Promise<void>((resolve) => {
        const off = proxyStore.subscribe((change) => {
          if (change.type === 'resync') {
            off()
            resolve()
          }
        })
      })
      await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
      await writer.revokeTokens(worker.relayKey)
      await resynced
      expect((await c.closed)[0]).to.equal(4403)
    } finally {
      await stack.close()
      await worker.close()
      await admin.quit()
      await writer.close()
      await proxyStore.close()
      await redis.stop()
      await testnet.destroy()
    }
  })
})

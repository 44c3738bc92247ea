import { randomBytes } from 'node:crypto'
import { expect } from 'chai'
import { pino } from 'pino'
import { createStore } from '../../shared/store/create-store.js'
import { MemoryStore } from '../../shared/store/memory-store.js'
import { RedisStore } from '../../shared/store/redis-store.js'
import { startRedis } from '../helpers/redis-server.js'
import type { TestRedis } from '../helpers/redis-server.js'
import { storeContract } from '../helpers/store-contract.js'
import { storeTenancyContract } from '../helpers/store-tenancy-contract.js'

const logger = pino({ level: 'silent' })

const memoryBackend = () => {
  const open = () => createStore({ redisUrl: '', redisPrefix: 'unused:', logger })
  return { open, openPeer: () => expect.fail('MemoryStore instances share nothing') }
}
storeContract('MemoryStore', false, memoryBackend)
storeTenancyContract('MemoryStore', false, memoryBackend)

describe('with a real redis-server', () => {
  let redis: TestRedis

  before(async () => {
    redis = await startRedis()
  })

  after(async () => {
    await redis?.stop()
  })

  const redisBackend = () => {
    // A prefix per test: tests share one server without seeing each other's keys.
    const redisPrefix = `test:${randomBytes(6).toString('hex')}:`
    const open = () => createStore({ redisUrl: redis.url, redisPrefix, logger })
    return { open, openPeer: open }
  }
  storeContract('RedisStore', true, redisBackend)
  storeTenancyContract('RedisStore', true, redisBackend)

  describe('createStore', () => {
    it('picks RedisStore for a URL and MemoryStore for an empty one', async () => {
      const redisStore = createStore({ redisUrl: redis.url, redisPrefix: 'p:', logger })
      const memoryStore = createStore({ redisUrl: '', redisPrefix: 'p:', logger })
      try {
        expect(redisStore).to.be.instanceOf(RedisStore)
        expect(memoryStore).to.be.instanceOf(MemoryStore)
      } finally {
        await Promise.all([redisStore.close(), memoryStore.close()])
      }
    })
  })
})

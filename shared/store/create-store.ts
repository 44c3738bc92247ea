import type { Logger } from 'pino'
import type { GatewayStore } from './gateway-store.js'
import { MemoryStore } from './memory-store.js'
import { RedisStore } from './redis-store.js'

/** Options of {@link createStore}, as found in the `registration` config section. */
export interface CreateStoreOptions {
  /** Empty: an in-process {@link MemoryStore}. Otherwise a {@link RedisStore} on this URL. */
  redisUrl: string
  redisPrefix: string
  logger: Logger
}

/** The store this process should use: Redis when a URL is configured, else memory. */
export function createStore({ redisUrl, redisPrefix, logger }: CreateStoreOptions): GatewayStore {
  if (redisUrl !== '') return new RedisStore({ url: redisUrl, prefix: redisPrefix, logger })
  return new MemoryStore({ logger })
}

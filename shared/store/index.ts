export { isTokenRevoked } from './gateway-store.js'
export type {
  ChangeListener,
  GatewayStore,
  Registration,
  RelayMetadata,
  StoreChange,
  TokenState,
  UsageCounters,
} from './gateway-store.js'
export { MemoryStore } from './memory-store.js'
export type { MemoryStoreOptions } from './memory-store.js'
export { RedisStore } from './redis-store.js'
export type { RedisStoreOptions } from './redis-store.js'
export { createStore } from './create-store.js'
export type { CreateStoreOptions } from './create-store.js'

export * from './wire.js'
export * from './router.js'
export * from './relay-channel.js'

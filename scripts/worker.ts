// `npm run worker`: an example Hypertuna worker (RelayHost + ExampleRelay), the
// developer's stand-in for a real worker. First line of stdout: its swarm key.
import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { loadConfig } from '../shared/config/load-config.js'
import { createLogger } from '../shared/log/create-logger.js'
import { crashOnUncaught } from '../shared/process/crash-only.js'
import { createSwarm, swarmOptions } from '../shared/swarm/create-swarm.js'
import { ExampleRelay } from '../shared/worker/example-relay.js'
import { RelayHost } from '../shared/worker/relay-host.js'

const HEX64 = /^[0-9a-f]{64}$/i

function fail(message: string): never {
  process.stderr.write(`worker: ${message}\n`)
  process.exit(1)
}

function workerSettings(env: NodeJS.ProcessEnv) {
  const relayKey = env.WORKER_RELAY_KEY ?? randomBytes(32).toString('hex')
  if (!HEX64.test(relayKey)) fail('WORKER_RELAY_KEY must be 64 hex characters')
  const seed = env.WORKER_SEED ?? ''
  if (seed !== '' && !HEX64.test(seed)) fail('WORKER_SEED must be 64 hex characters')
  const push = (env.WORKER_PUSH ?? 'true').toLowerCase()
  if (push !== 'true' && push !== 'false') fail('WORKER_PUSH must be true or false')
  return {
    relayKey: relayKey.toLowerCase(),
    seed: seed === '' ? undefined : Buffer.from(seed, 'hex'),
    push: push === 'true',
    publicIdentifier: env.WORKER_PUBLIC_IDENTIFIER,
  }
}

async function main(): Promise<void> {
  let config
  try {
    config = loadConfig({
      env: process.env,
      warn: (message) => process.stderr.write(`worker: warning: ${message}\n`),
    })
  } catch (err) {
    fail((err as Error).message)
  }
  const settings = workerSettings(process.env)
  // stdout carries the key line for scripts; logs go to stderr.
  const logger = createLogger({
    level: config.log.level,
    name: 'worker',
    destination: pino.destination(2),
  })
  crashOnUncaught(logger)
  const swarm = createSwarm({
    ...swarmOptions(config.hyperswarm),
    ...(settings.seed === undefined ? {} : { seed: settings.seed }),
  })
  const relay = new ExampleRelay()
  const host = new RelayHost({
    swarm,
    logger,
    push: settings.push,
    relays: [
      {
        relayKey: settings.relayKey,
        backend: relay,
        ...(settings.publicIdentifier === undefined
          ? {}
          : { publicIdentifier: settings.publicIdentifier }),
      },
    ],
  })
  await host.start()
  // Printed once announced, so whoever reads it can dial straight away.
  process.stdout.write(`${host.publicKey}\n`)
  logger.info(
    { peer: host.publicKey, relayKey: settings.relayKey, push: settings.push },
    'worker announced',
  )

  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'worker stopping')
    await host.close()
    relay.close()
    await swarm.destroy()
    process.exit(0)
  }
  process.once('SIGINT', () => void stop('SIGINT'))
  process.once('SIGTERM', () => void stop('SIGTERM'))
}

main().catch((err: unknown) =>
  fail(err instanceof Error ? (err.stack ?? err.message) : String(err)),
)

// Child process: the legacy backend. A worker as the field has them (tests/helpers/legacy-peer.ts:
// straight on Protomux, five slots, no extensions, bodies as byte arrays, polling only) serving
// the same ExampleRelay logic as the other backends, in its own process as a worker would be. A
// local WebSocket front on the same relay stands for the worker's own local clients, whose events
// reach gateway sessions only at the next poll.
import { randomBytes } from 'node:crypto'
import { createSwarm } from '../shared/swarm/create-swarm.js'
import { ExampleRelay } from '../shared/worker/example-relay.js'
import { LegacyPeer } from '../tests/helpers/legacy-peer.js'
import { LegacyRelay } from '../tests/helpers/legacy-relay.js'
import { DirectServer } from './direct-server.js'
import { hasValidId } from './events.js'
import type { BenchEvent } from './events.js'
import type { LegacyReady } from './ipc-messages.js'
import { LOOPBACK, parseBootstrap } from './testnet.js'

// The bench was killed: die at once (bench/child-hooks.ts says why).
const orphaned = () => process.kill(process.pid, 'SIGKILL')
process.on('disconnect', orphaned)
if (!process.connected) orphaned()

async function main(): Promise<void> {
  const bootstrap = parseBootstrap(process.env.BENCH_BOOTSTRAP ?? '')
  const relay = new ExampleRelay({ verify: (e) => hasValidId(e as BenchEvent) })
  const relayKey = randomBytes(32).toString('hex')
  const swarm = createSwarm({ bootstrap, host: LOOPBACK })
  const routes = new LegacyRelay(relay, { relayKeys: [relayKey] })
  const peer = new LegacyPeer({ swarm }, { keepRequests: false })
  peer.respond = routes.respond
  const local = new DirectServer(relay)
  const [localPort] = await Promise.all([local.listen(), peer.start()])

  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    setTimeout(() => process.exit(1), 5_000).unref()
    await local.close()
    routes.close()
    await peer.close()
    relay.close()
    process.exit(0)
  }
  process.once('SIGTERM', () => void stop())
  process.once('SIGINT', () => void stop())
  const ready: LegacyReady = {
    type: 'legacy-ready',
    legacyPeer: peer.publicKey,
    legacyRelayKey: relayKey,
    localPort: localPort as number,
  }
  process.send?.(ready)
}

main().catch((err: unknown) => {
  process.stderr.write(
    `legacy: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  )
  process.exit(1)
})

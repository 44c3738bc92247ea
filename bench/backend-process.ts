// Child process: the relay backend the bench measures against. One ExampleRelay, served two
// ways at once: by the kit's push worker (RelayHost) and by a direct WebSocket server. (The
// legacy worker, polling only, is its own process: bench/legacy-process.ts.) Kept out of the bench process so the load generator and the
// relay never share a thread, and out of the proxy process as a real worker would be.
import { randomBytes } from 'node:crypto'
import HyperDHT from 'hyperdht'
import { pino } from 'pino'
import { createSwarm } from '../shared/swarm/create-swarm.js'
import { ExampleRelay } from '../shared/worker/example-relay.js'
import { RelayHost } from '../shared/worker/relay-host.js'
import { DirectServer } from './direct-server.js'
import { installExperiment } from './experiments/install.js'
import { hasValidId } from './events.js'
import type { BenchEvent } from './events.js'
import type { BackendReady } from './ipc-messages.js'
import { echoConnection } from './scenarios/transport-floor.js'
import { LOOPBACK, parseBootstrap } from './testnet.js'

// The bench was killed (a normal end stops us first): die at once, as child-hooks.ts explains;
// the testnet died with the bench, so there is nothing to close politely.
const orphaned = () => process.kill(process.pid, 'SIGKILL')
process.on('disconnect', orphaned)
if (!process.connected) orphaned()

async function main(): Promise<void> {
  await installExperiment(process.env.BENCH_EXPERIMENT)
  const bootstrap = parseBootstrap(process.env.BENCH_BOOTSTRAP ?? '')
  const logger = pino({ level: 'warn' }, pino.destination(2))
  // Id checks only: see events.ts. Everything else is the stock example relay.
  const relay = new ExampleRelay({ verify: (e) => hasValidId(e as BenchEvent) })
  const pushSwarm = createSwarm({ bootstrap, host: LOOPBACK })
  const swarms = [pushSwarm]
  const pushRelayKey = randomBytes(32).toString('hex')
  const hosts = [
    new RelayHost({
      swarm: pushSwarm,
      logger,
      push: true,
      relays: [{ relayKey: pushRelayKey, backend: relay }],
    }),
  ]
  const direct = new DirectServer(relay)
  // The transport floor: a bare HyperDHT server on its own node, echoing (transport-floor.ts).
  const echoDht = new HyperDHT({ bootstrap, host: LOOPBACK })
  const echoKeyPair = HyperDHT.keyPair()
  const echo = echoDht.createServer({}, echoConnection)
  const [directPort] = await Promise.all([
    direct.listen(),
    echo.listen(echoKeyPair),
    ...hosts.map((h) => h.start()),
  ])

  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    setTimeout(() => process.exit(1), 5_000).unref()
    await direct.close()
    for (const host of hosts) await host.close()
    await Promise.all(swarms.map((s) => s.destroy()))
    await echo.close()
    await echoDht.destroy()
    relay.close()
    process.exit(0)
  }
  process.once('SIGTERM', () => void stop())
  process.once('SIGINT', () => void stop())

  const ready: BackendReady = {
    type: 'ready',
    directPort: directPort as number,
    pushPeer: pushSwarm.keyPair.publicKey.toString('hex'),
    pushRelayKey,
    echoKey: echoKeyPair.publicKey.toString('hex'),
  }
  process.send?.(ready)
}

main().catch((err: unknown) => {
  process.stderr.write(
    `backend: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  )
  process.exit(1)
})

// Child process: the tunnel-mode backend. A worker as `expose --mode tunnel` runs it: a relay
// with its own WebSocket server (the direct baseline), a local HTTP file service holding one
// large file (the direct HTTP baseline), and the kit's worker offering both through tunnels.
// Its own process for the reasons backend-process.ts gives.
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { pino } from 'pino'
import { createSwarm } from '../shared/swarm/create-swarm.js'
import { httpService, wsService } from '../shared/tunnel/tunnel-wire.js'
import { DriveFileServer } from '../shared/worker/drive-file-server.js'
import { ExampleRelay } from '../shared/worker/example-relay.js'
import { RelayHost } from '../shared/worker/relay-host.js'
import { writePatternFile } from '../tests/helpers/big-file.js'
import { DirectServer } from './direct-server.js'
import { hasValidId } from './events.js'
import type { BenchEvent } from './events.js'
import { LOOPBACK, parseBootstrap } from './testnet.js'
import type { TunnelReady } from './tunnel-ipc.js'

const FILE = 'bench.bin'

// The bench was killed: die at once (see backend-process.ts). The file's directory is the
// bench's, which removes it whatever way this child ends.
const orphaned = () => process.kill(process.pid, 'SIGKILL')
process.on('disconnect', orphaned)
if (!process.connected) orphaned()

async function main(): Promise<void> {
  const bootstrap = parseBootstrap(process.env.BENCH_BOOTSTRAP ?? '')
  const size = Number(process.env.BENCH_DRIVE_BYTES ?? 100 * 1024 * 1024)
  const logger = pino({ level: 'warn' }, pino.destination(2))
  const dir = process.env.BENCH_DRIVE_DIR
  if (dir === undefined) throw new Error('BENCH_DRIVE_DIR is not set')
  const file = await writePatternFile(join(dir, FILE), size)
  const relayKey = randomBytes(32).toString('hex')
  const relay = new ExampleRelay({ verify: (e) => hasValidId(e as BenchEvent) })
  const direct = new DirectServer(relay)
  const files = new DriveFileServer({ root: dir, identifiers: [relayKey], host: LOOPBACK })
  const swarm = createSwarm({ bootstrap, host: LOOPBACK })
  const [directPort, http] = await Promise.all([direct.listen(), files.start()])
  const host = new RelayHost({
    swarm,
    logger,
    relays: [{ relayKey, backend: relay }],
    tunnels: {
      [wsService(relayKey)]: { host: LOOPBACK, port: directPort },
      [httpService(relayKey)]: { host: LOOPBACK, port: http.port },
    },
  })
  await host.start()

  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    setTimeout(() => process.exit(1), 5_000).unref()
    await host.close()
    await swarm.destroy()
    await files.close()
    await direct.close()
    relay.close()
    process.exit(0)
  }
  process.once('SIGTERM', () => void stop())
  process.once('SIGINT', () => void stop())

  const ready: TunnelReady = {
    type: 'tunnel-ready',
    directPort,
    httpPort: http.port,
    tunnelPeer: host.publicKey,
    tunnelRelayKey: relayKey,
    file: FILE,
    size: file.size,
    sha256: file.sha256,
  }
  process.send?.(ready)
}

main().catch((err: unknown) => {
  process.stderr.write(
    `tunnel backend: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  )
  process.exit(1)
})

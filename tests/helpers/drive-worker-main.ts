// Child process of tests/helpers/drive-worker.ts: a tunnel-mode worker whose relay's HTTP
// service is a DriveFileServer over DRIVE_WORKER_DIR. First stdout line: `<worker key> <relay
// key>`. Its own process so a test can SIGKILL it mid-transfer. With DRIVE_WORKER_WS=1 it also
// tunnels the relay's WebSocket to a local Nostr relay (tests/helpers/local-ws-relay.ts).
import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { createSwarm } from '../../shared/swarm/create-swarm.js'
import { httpService, wsService } from '../../shared/tunnel/tunnel-wire.js'
import { DriveFileServer } from '../../shared/worker/drive-file-server.js'
import { ExampleRelay } from '../../shared/worker/example-relay.js'
import { RelayHost } from '../../shared/worker/relay-host.js'
import { startLocalWsRelay } from './local-ws-relay.js'
import { LOOPBACK } from './testnet.js'

async function main(): Promise<void> {
  const dir = process.env.DRIVE_WORKER_DIR ?? ''
  const bootstrap = (process.env.DRIVE_WORKER_BOOTSTRAP ?? '').split(',').map((entry) => {
    const [host, port] = entry.split(':')
    if (host !== LOOPBACK) throw new Error(`bootstrap not on loopback: ${entry}`)
    return { host, port: Number(port) }
  })
  const relayKey = process.env.DRIVE_WORKER_RELAY_KEY ?? randomBytes(32).toString('hex')
  const files = new DriveFileServer({ root: dir, identifiers: [relayKey] })
  const { port } = await files.start()
  const relay = new ExampleRelay()
  const ws = process.env.DRIVE_WORKER_WS === '1' ? await startLocalWsRelay() : null
  const swarm = createSwarm({ bootstrap, host: LOOPBACK })
  const host = new RelayHost({
    swarm,
    logger: pino({ level: 'warn' }, pino.destination(2)),
    relays: [{ relayKey, backend: relay }],
    tunnels: {
      [httpService(relayKey)]: { host: LOOPBACK, port },
      ...(ws === null ? {} : { [wsService(relayKey)]: { host: LOOPBACK, port: ws.port } }),
    },
  })
  await host.start()
  process.stdout.write(`${host.publicKey} ${relayKey}\n`)
  const stop = async () => {
    await host.close()
    await swarm.destroy()
    await files.close()
    await ws?.close()
    relay.close()
    process.exit(0)
  }
  process.once('SIGTERM', () => void stop())
}

main().catch((err: unknown) => {
  process.stderr.write(
    `drive worker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  )
  process.exit(1)
})

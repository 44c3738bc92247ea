// Child process of `npm run chaos`: one worker (RelayHost + ExampleRelay) for one relay on the
// loopback testnet. Cheap id-only event checks, as the bench's backend, so the load generator
// needs no signatures. Prints `{"msg":"worker ready","publicKey":...}` once announced; answers
// an IPC `{type:"status"}` with its gateway channels and client connections.
import { pino } from 'pino'
import { hasValidId } from '../bench/events.js'
import type { BenchEvent } from '../bench/events.js'
import { LOOPBACK, parseBootstrap } from '../bench/testnet.js'
import { createSwarm } from '../shared/swarm/create-swarm.js'
import { ExampleRelay } from '../shared/worker/example-relay.js'
import { RelayHost } from '../shared/worker/relay-host.js'

// The chaos run went away without stopping us (it was killed): nothing to close politely.
const orphaned = (): void => void process.kill(process.pid, 'SIGKILL')
process.on('disconnect', orphaned)
if (!process.connected) orphaned()

async function main(): Promise<void> {
  const bootstrap = parseBootstrap(process.env.CHAOS_BOOTSTRAP ?? '')
  const relayKey = process.env.CHAOS_RELAY_KEY ?? ''
  const relay = new ExampleRelay({ verify: (e) => hasValidId(e as BenchEvent) })
  const swarm = createSwarm({ bootstrap, host: LOOPBACK })
  const host = new RelayHost({
    swarm,
    logger: pino({ level: 'warn' }, pino.destination(2)),
    relays: [{ relayKey, backend: relay }],
  })
  await host.start()
  // The run asks which worker carries sessions before it stops one (chaos/chaos-stack.ts).
  process.on('message', (m: { type?: string } | null) => {
    if (m?.type !== 'status') return
    process.send?.({
      type: 'status',
      channels: host.channelCount,
      connections: host.connectionCount,
    })
  })
  process.stdout.write(`${JSON.stringify({ msg: 'worker ready', publicKey: host.publicKey })}\n`)
  process.once('SIGTERM', () => {
    void host.close().finally(() => process.exit(0))
  })
}

void main()

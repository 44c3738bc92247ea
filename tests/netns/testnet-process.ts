// Run inside the core ("internet") namespace: a HyperDHT testnet whose every node binds the
// exact address it is known by (hyperdht/testnet.js binds 0.0.0.0 off loopback, and replies
// from another address fail id validation), plus the deployment's external blind relay.
// Prints one JSON line {bootstrap, relayKey} once up; stops on SIGTERM.
import HyperDHT from 'hyperdht'
import { pino } from 'pino'
import { RelayService } from '../../shared/swarm/relay-service.js'

const host = process.env.NETNS_CORE_HOST ?? ''
const basePort = Number(process.env.NETNS_CORE_PORT ?? '49800')
const size = 10

async function main(): Promise<void> {
  const nodes: HyperDHT[] = []
  const first = HyperDHT.bootstrapper(basePort, host, { host })
  nodes.push(first)
  await first.ready()
  const bootstrap = [{ host, port: basePort }]
  for (let i = 1; i < size; i++) {
    const node = new HyperDHT({
      bootstrap,
      host,
      port: basePort + i,
      anyPort: false,
      ephemeral: false,
      firewalled: false,
    })
    nodes.push(node)
    await node.fullyBootstrapped()
  }
  const relayDht = new HyperDHT({ bootstrap, host, firewalled: false })
  nodes.push(relayDht)
  await relayDht.fullyBootstrapped()
  const relay = new RelayService({
    dht: relayDht,
    keyPair: HyperDHT.keyPair(),
    logger: pino({ level: 'silent' }),
  })
  await relay.start()
  process.stdout.write(`${JSON.stringify({ bootstrap, relayKey: relay.publicKey })}\n`)
  process.once('SIGTERM', () => {
    void (async () => {
      await relay.close()
      await Promise.all(nodes.map((n) => n.destroy()))
      process.exit(0)
    })()
  })
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`)
  process.exit(1)
})

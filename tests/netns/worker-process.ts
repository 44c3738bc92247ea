// Run inside a worker namespace: a kit worker (RelayHost + ExampleRelay) that registers its
// relay with the gateway's registrar. NETNS_MODE=legacy only announces and waits to be
// dialled; NETNS_MODE=kit also dials out to the gateway keys the registration answer names.
// Prints one JSON line {publicKey, relayKey, gateway} once registered; stops on SIGTERM.
import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { createSwarm } from '../../shared/swarm/create-swarm.js'
import { ExampleRelay } from '../../shared/worker/example-relay.js'
import { RegistrarClient } from '../../shared/worker/registrar-client.js'
import { RelayHost } from '../../shared/worker/relay-host.js'

const env = process.env
const [bootHost, bootPort] = (env.NETNS_BOOTSTRAP ?? '').split(':')

async function main(): Promise<void> {
  const relayKey = randomBytes(32).toString('hex')
  // A kit worker behind a randomizing NAT also tells dialling gateways to meet it at a relay
  // (server side of relayThrough); the relays come with the registration answer.
  let relays: readonly string[] = []
  const swarm = createSwarm({
    bootstrap: [{ host: bootHost ?? '', port: Number(bootPort) }],
    host: env.NETNS_HOST ?? '',
    ...(env.NETNS_MODE === 'kit' ? { relayThrough: () => relays } : {}),
  })
  const logger = pino({ level: env.NETNS_LOG ?? 'silent' }, pino.destination(2))
  const relay = new ExampleRelay()
  const host = new RelayHost({ swarm, logger, relays: [{ relayKey, backend: relay }] })
  await host.start()
  const registrar = new RegistrarClient({
    registrarUrl: env.NETNS_REGISTRAR ?? '',
    secret: env.NETNS_SECRET ?? '',
  })
  const answer = await registrar.register({ relayKey, peers: [host.publicKey] })
  if (env.NETNS_MODE === 'kit') {
    if (answer.gateway === undefined) throw new Error('registration answer names no gateway')
    relays = answer.gateway.relays
    host.dialGateways(answer.gateway)
  }
  process.stdout.write(
    `${JSON.stringify({ publicKey: host.publicKey, relayKey, gateway: answer.gateway ?? null })}\n`,
  )
  process.once('SIGTERM', () => {
    void (async () => {
      await registrar.close()
      await host.close()
      relay.close()
      await swarm.destroy()
      process.exit(0)
    })()
  })
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exit(1)
})

import { createSocket } from 'node:dgram'
import { once } from 'node:events'
import { expect } from 'chai'
import type { NoiseSecretStream } from 'hyperdht'
import type Hyperswarm from 'hyperswarm'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { gatewayDocument } from '../../registrar/gateway-routes.js'
import { loadConfig } from '../../shared/config/load-config.js'
import { relayKeyPair, seedPublicKey } from '../../shared/swarm/create-swarm.js'
import { ReachableNode } from '../../shared/swarm/reachability-node.js'
import { RelayHost } from '../../shared/worker/relay-host.js'
import { createLogSink } from '../helpers/log-sink.js'
import { waitUntil } from '../helpers/wait-until.js'
import { LOOPBACK, startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'

const SEED = 'ab'.repeat(32)

async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4')
  socket.bind(0, LOOPBACK)
  await once(socket, 'listening')
  const { port } = socket.address()
  await new Promise<void>((resolve) => socket.close(() => resolve()))
  return port
}

function forcedRelays(swarm: Hyperswarm): string[] | null {
  const keys = swarm.relayThrough?.(true, swarm) ?? null
  return keys === null ? null : [keys].flat().map((k) => k.toString('hex'))
}

describe('swarm reachability, blind relay and dial-out (loopback testnet)', function () {
  this.timeout(30_000)
  let testnet: LocalTestnet
  const nodes: ReachableNode[] = []

  before(async () => {
    testnet = await startTestnet()
  })
  after(async () => {
    await Promise.all(nodes.map((n) => n.close()))
    await testnet.destroy()
  })

  function node(opts: {
    port: number
    reachable: boolean
    relayServer?: boolean
    relays?: string[]
  }) {
    const sink = createLogSink()
    const registry = new Registry()
    const n = new ReachableNode({
      swarm: {
        bootstrap: testnet.bootstrap,
        host: LOOPBACK,
        port: opts.port,
        reachable: opts.reachable,
      },
      relaySeed: SEED,
      relayServer: opts.relayServer ?? false,
      relays: opts.relays ?? [],
      logger: pino({ level: 'debug' }, sink.stream),
      registry,
    })
    nodes.push(n)
    return { n, sink, registry }
  }

  it('verifies a reachable claim on a fixed port and reports it in gauges and /ready details', async () => {
    const port = await freeUdpPort()
    const { n, registry } = node({ port, reachable: true })
    await n.start()
    const report = n.report
    expect(report).to.include({ claimed: true, verified: true, firewalled: false, localPort: port })
    expect(report?.publicPort).to.equal(port)
    expect(n.swarm.dht.firewalled).to.equal(false)
    expect(n.details()).to.deep.include({
      swarm: {
        firewalled: false,
        reachableClaim: 'verified',
        publicAddress: `${LOOPBACK}:${port}`,
        natType: 'open',
        relays: [],
      },
    })
    const text = await registry.metrics()
    expect(text).to.match(/^hypertuna_gateway_swarm_firewalled 0$/m)
    expect(text).to.match(/^hypertuna_gateway_swarm_reachable_claim\{result="verified"\} 1$/m)
    expect(text).to.match(/^hypertuna_gateway_swarm_nat_type\{type="open"\} 1$/m)
  })

  it('refuses a claim that cannot hold, warns loudly and runs firewalled', async () => {
    const { n, sink, registry } = node({ port: 0, reachable: true })
    await n.start()
    expect(n.report).to.include({ claimed: true, verified: false, firewalled: true })
    expect(n.swarm.dht.firewalled).to.equal(true)
    const warning = sink.find((l) => l.level === 40 && typeof l.problem === 'string')
    expect(warning?.msg).to.match(/does NOT hold/)
    expect(await registry.metrics()).to.match(
      /^hypertuna_gateway_swarm_reachable_claim\{result="refused"\} 1$/m,
    )
  })

  it('offers a blind relay that two peers pair through', async () => {
    const { n: relayNode } = node({ port: 0, reachable: false, relayServer: true })
    await relayNode.start()
    expect(relayNode.relayKey).to.equal(relayKeyPair(SEED).publicKey.toString('hex'))
    const server = testnet.createSwarm()
    const client = testnet.createSwarm()
    const accepted = new Promise<NoiseSecretStream>((resolve) =>
      server.on('connection', (s: NoiseSecretStream) => {
        s.on('error', () => {})
        resolve(s)
      }),
    )
    await server.listen()
    const stream = client.dht.connect(server.keyPair.publicKey, {
      keyPair: client.keyPair,
      relayThrough: Buffer.from(relayNode.relayKey ?? '', 'hex'),
    })
    stream.on('error', () => {})
    await once(stream, 'open')
    const inbound = await accepted
    expect(inbound.remotePublicKey.equals(client.keyPair.publicKey)).to.equal(true)
    // The pairing shows in the relay's own stats, so the bytes did go through it.
    // Both ends pair at the relay alongside the direct path (which wins on loopback).
    await waitUntil(() => (relayNode.relayStats?.pairings.matched ?? 0) >= 1, {
      what: 'a pairing matched at the relay',
    })
    stream.destroy()
  })

  it('never dials through the relay it offers itself (RELAY_SERVER=true), even when listed', async () => {
    const own = relayKeyPair(SEED).publicKey.toString('hex')
    const external = 'e'.repeat(64)
    const { n } = node({ port: 0, reachable: false, relayServer: true, relays: [own, external] })
    await n.start()
    expect(n.relayKey).to.equal(own)
    // What the pool retries through (build-proxy passes relayKeys) and what /ready shows.
    expect(n.relayKeys).to.deep.equal([external])
    await n.checked()
    expect((n.details().swarm as { relays: string[] }).relays).to.deep.equal([external])
    // The swarm's own relayThrough rule, forced as after a failed punch.
    expect(forcedRelays(n.swarm)).to.deep.equal([external])
    // Only its own relay offered: nothing to retry through.
    const { n: alone } = node({ port: 0, reachable: false, relayServer: true, relays: [own] })
    expect(alone.relayKeys).to.deep.equal([])
    expect(forcedRelays(alone.swarm)).to.equal(null)
  })

  it('a kit worker dials out to the gateway key and redials when the link drops', async () => {
    const gateway = testnet.createSwarm()
    await gateway.listen()
    const links: NoiseSecretStream[] = []
    const twoLinks = new Promise<void>((resolve) => {
      gateway.on('connection', (s: NoiseSecretStream) => {
        s.on('error', () => {})
        links.push(s)
        if (links.length === 1) s.destroy()
        if (links.length === 2) resolve()
      })
    })
    const swarm = testnet.createSwarm()
    const host = new RelayHost({ swarm, logger: pino({ level: 'silent' }) })
    host.dialGateways({ gatewayKeys: [gateway.keyPair.publicKey.toString('hex')], relays: [] })
    await twoLinks
    for (const link of links) {
      // Identity is the Noise key: the worker's registered swarm key.
      expect(link.remotePublicKey.toString('hex')).to.equal(host.publicKey)
    }
    await host.close()
  })

  it('the registrar publishes the proxy key and relays derived from the shared seed', () => {
    const config = loadConfig({
      env: { GATEWAY_HYPERSWARM_SEED: SEED, GATEWAY_HYPERSWARM_RELAY_SERVER: 'true' },
    })
    expect(gatewayDocument(config)).to.deep.equal({
      version: 1,
      gatewayKeys: [seedPublicKey(SEED)],
      relays: [relayKeyPair(SEED).publicKey.toString('hex')],
    })
    const listed = loadConfig({
      env: { GATEWAY_REGISTRAR_GATEWAY_KEYS: `${'01'.repeat(32)},${'02'.repeat(32)}` },
    })
    expect(gatewayDocument(listed).gatewayKeys).to.deep.equal(['01'.repeat(32), '02'.repeat(32)])
  })
})

import { randomBytes } from 'node:crypto'
import { ExampleRelay } from '../../shared/worker/example-relay.js'
import { LegacyPeer } from './legacy-peer.js'
import { LegacyRelay } from './legacy-relay.js'
import type { LegacyRelayOptions } from './legacy-relay.js'
import { startProxyStack } from './proxy-stack.js'
import type { ProxyStack } from './proxy-stack.js'
import type { LocalTestnet } from './testnet.js'
import { rawClient } from './ws-client.js'
import type { RawClient } from './ws-client.js'

export type Line = unknown[]
export const isLine = (m: unknown): m is Line => Array.isArray(m)
/** Matches a relay line by verb (and subscription id or event id in second place). */
export const verbIs = (verb: string, sub?: string) => (m: unknown) =>
  isLine(m) && m[0] === verb && (sub === undefined || m[1] === sub)

/** A small deterministic generator, so a failing run can be replayed. */
export function lcg(seed: number): () => number {
  let x = seed
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31
    return x / 2 ** 31
  }
}

/** Sum of a counter's values on the proxy's registry. */
export async function counter(stack: ProxyStack, name: string): Promise<number> {
  const metric = await stack.registry.getSingleMetric(name)?.get()
  return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0)
}

/** A proxy in front of one legacy worker (LegacyPeer + LegacyRelay on an ExampleRelay). */
export interface LegacyStack {
  relayKey: string
  relay: ExampleRelay
  routes: LegacyRelay
  peer: LegacyPeer
  stack: ProxyStack
  /** A client whose first REQ ('warm') has had its EOSE: its worker link is up. */
  client(): Promise<RawClient>
  /** A client that has sent nothing yet. */
  rawClient(): Promise<RawClient>
  close(): Promise<void>
}

export async function startLegacyStack(
  testnet: LocalTestnet,
  opts: {
    /** Default: a fresh random key. */
    relayKey?: string
    delayMs?: LegacyRelayOptions['delayMs']
    proxy?: Parameters<typeof startProxyStack>[1]
    worker?: Partial<LegacyRelayOptions>
  } = {},
): Promise<LegacyStack> {
  const relayKey = opts.relayKey ?? randomBytes(32).toString('hex')
  const relay = new ExampleRelay()
  const routes = new LegacyRelay(relay, {
    relayKeys: [relayKey],
    ...(opts.delayMs === undefined ? {} : { delayMs: opts.delayMs }),
    recordOutput: true,
    ...opts.worker,
  })
  const peer = new LegacyPeer(testnet)
  peer.respond = routes.respond
  await peer.start()
  const stack = await startProxyStack(testnet, opts.proxy ?? {})
  await stack.register(relayKey, [peer.publicKey])
  const clients: RawClient[] = []
  const open = async () => {
    const c = await rawClient(stack.url(relayKey, stack.token(relayKey, { n: clients.length })))
    clients.push(c)
    return c
  }
  return {
    relayKey,
    relay,
    routes,
    peer,
    stack,
    rawClient: open,
    async client() {
      const c = await open()
      // The first message opens the worker link; batches after it then know the worker.
      c.send(['REQ', 'warm', { kinds: [30_999] }])
      await c.next(verbIs('EOSE', 'warm'))
      return c
    },
    async close() {
      for (const c of clients.splice(0)) c.ws.close()
      await stack.close()
      routes.close()
      await peer.close()
      relay.close()
    },
  }
}

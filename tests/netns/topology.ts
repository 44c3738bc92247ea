import { NS_PREFIX, Namespace, link, removeOurNamespaces } from './netns.js'

/** Where the core ("internet") runs the testnet and the external blind relay. */
export const CORE_HOST = '198.18.0.1'
/** The gateway router's public address (Caddy's ports and, when published, the DHT port). */
export const GATEWAY_PUBLIC = '198.18.1.2'
export const GATEWAY_HOST = '198.19.1.2'
export const GATEWAY_DHT_PORT = 49737
export const PROXY_PORT = 8080
export const REGISTRAR_PORT = 8081

/** Worker placements of the matrix. */
export type Placement = 'public' | 'consistent' | 'random'

export const WORKER_HOST: Record<Placement, string> = {
  public: '198.18.2.2',
  consistent: '198.19.3.2',
  random: '198.19.4.2',
}

/** The simulated internet: core, the gateway behind its router, workers in three placements. */
export interface Topology {
  core: Namespace
  gatewayRouter: Namespace
  gateway: Namespace
  workers: Record<Placement, Namespace>
}

// NAT router: masquerades out of its WAN side; `dnat` lines publish ports to the host
// behind it. The core's TTL rule (not a drop of unsolicited inbound here, which also broke
// punched flows in this simulation) makes punching behave as on the internet.
function routerRules(wan: string, opts: { random: boolean; dnat: string[] }): string {
  return `
table ip htnat
delete table ip htnat
table ip htnat {
  chain nat_pre {
    type nat hook prerouting priority dstnat; policy accept;
${opts.dnat.map((rule) => `    iifname "${wan}" ${rule}`).join('\n')}
  }
  chain nat_post {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "${wan}" masquerade${opts.random ? ' random' : ''}
  }
}
`
}

/** A host behind its own NAT router, the router linked to the core. */
function behindRouter(
  core: Namespace,
  short: string,
  id: string,
  wan: string,
  lan: string,
  host: string,
): { router: Namespace; inner: Namespace } {
  const router = Namespace.create(`${short}r`)
  const inner = Namespace.create(short)
  router.sysctl('net.ipv4.ip_forward=1')
  const coreSide = wan.replace(/\.2$/, '.1')
  link(core, coreSide, router, wan, id)
  link(router, lan, inner, host, `${id}l`)
  router.defaultRoute(coreSide)
  inner.defaultRoute(lan)
  return { router, inner }
}

/**
 * (Re)builds the gateway and its router, so no NAT state (conntrack) of the previous row
 * survives: Caddy's TCP ports (proxy and registrar here) are always published, the DHT's UDP
 * port only in the "published, REACHABLE" row.
 */
export function publishGateway(t: Topology, dhtPort: boolean): void {
  // Deleting the core's veth end removes the pair at once; a deleted namespace's own
  // devices go away asynchronously, too late for the next link of the same name.
  if (t.core.ip('link', 'show').includes('vgwa@')) t.core.ip('link', 'del', 'vgwa')
  t.gateway.remove()
  t.gatewayRouter.remove()
  const gw = behindRouter(t.core, 'gw', 'gw', GATEWAY_PUBLIC, '198.19.1.1', GATEWAY_HOST)
  t.gateway = gw.inner
  t.gatewayRouter = gw.router
  const dnat = [
    `tcp dport { ${PROXY_PORT}, ${REGISTRAR_PORT} } dnat to ${GATEWAY_HOST}`,
    ...(dhtPort ? [`udp dport ${GATEWAY_DHT_PORT} dnat to ${GATEWAY_HOST}`] : []),
  ]
  t.gatewayRouter.nft(routerRules('vgwb', { random: false, dnat }))
}

/** Builds every namespace, link and rule; removes stale ones of an earlier run first. */
export function buildTopology(): Topology {
  removeOurNamespaces()
  const core = Namespace.create('core')
  core.sysctl('net.ipv4.ip_forward=1')
  core.addAddress('lo', `${CORE_HOST}/32`)
  // Real paths are longer than HyperDHT's low-TTL punch packets: without this, they would
  // reach the far NAT and the simulation would punch where the internet does not.
  core.nft(`
table inet htcore {
  chain forward_in {
    type filter hook forward priority 0; policy accept;
    ip ttl lt 10 drop
  }
}
`)

  const pub = Namespace.create('wpub')
  link(core, '198.18.2.1', pub, WORKER_HOST.public, 'wp')
  pub.defaultRoute('198.18.2.1')
  const cons = behindRouter(core, 'wc', 'wc', '198.18.3.2', '198.19.3.1', WORKER_HOST.consistent)
  cons.router.nft(routerRules('vwcb', { random: false, dnat: [] }))
  const rand = behindRouter(core, 'wr', 'wr', '198.18.4.2', '198.19.4.1', WORKER_HOST.random)
  rand.router.nft(routerRules('vwrb', { random: true, dnat: [] }))

  const t: Topology = {
    core,
    gatewayRouter: new Namespace(`${NS_PREFIX}gwr`),
    gateway: new Namespace(`${NS_PREFIX}gw`),
    workers: { public: pub, consistent: cons.inner, random: rand.inner },
  }
  publishGateway(t, false)
  return t
}

import { Gauge } from 'prom-client'
import type { Registry } from 'prom-client'
import type { BlindRelayStats } from 'blind-relay'
import { NAT_TYPES } from './reachability.js'
import type { ReachabilityReport } from './reachability.js'

/**
 * The swarm node's reachability as gauges (`hypertuna_gateway_swarm_*`), read at scrape time
 * from the latest report; the public address is not a label (it lives on /ready and in logs).
 */
export function registerReachabilityMetrics(
  registry: Registry,
  source: { report(): ReachabilityReport | null; relayStats(): BlindRelayStats | null },
): void {
  const registers = [registry]
  new Gauge({
    name: 'hypertuna_gateway_swarm_firewalled',
    help: 'Whether the DHT node runs firewalled (1: peers must hole-punch to reach it)',
    registers,
    collect() {
      const r = source.report()
      if (r !== null) this.set(r.firewalled ? 1 : 0)
    },
  })
  new Gauge({
    name: 'hypertuna_gateway_swarm_reachable_claim',
    help: 'GATEWAY_HYPERSWARM_REACHABLE as checked at start-up, by result (verified or refused)',
    labelNames: ['result'],
    registers,
    collect() {
      const r = source.report()
      if (r === null) return
      this.set({ result: 'verified' }, r.claimed && r.verified ? 1 : 0)
      this.set({ result: 'refused' }, r.claimed && !r.verified ? 1 : 0)
    },
  })
  new Gauge({
    name: 'hypertuna_gateway_swarm_nat_type',
    help: 'NAT type DHT nodes observe for this node (1 on the current type)',
    labelNames: ['type'],
    registers,
    collect() {
      const r = source.report()
      if (r === null) return
      for (const type of NAT_TYPES) this.set({ type }, r.natType === type ? 1 : 0)
    },
  })
  new Gauge({
    name: 'hypertuna_gateway_swarm_public_port',
    help: 'Public UDP port DHT nodes observe (0: random or unknown)',
    registers,
    collect() {
      const r = source.report()
      if (r !== null) this.set(r.publicPort)
    },
  })
  new Gauge({
    name: 'hypertuna_gateway_swarm_relay_pairings',
    help: 'Blind-relay pairings this node serves, by state (absent when it offers no relay)',
    labelNames: ['state'],
    registers,
    collect() {
      const s = source.relayStats()
      if (s === null) return
      this.set({ state: 'active' }, s.pairings.active)
      this.set({ state: 'pending' }, s.pairings.pending)
    },
  })
}

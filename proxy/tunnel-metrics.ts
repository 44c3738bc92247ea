import { Counter, Gauge } from 'prom-client'
import type { Registry } from 'prom-client'
import type { PeerPool } from '../shared/swarm/peer-pool.js'
import { serviceKind } from '../shared/tunnel/tunnel-wire.js'
import type { TunnelClient, TunnelOutcome } from './tunnel-client.js'

/**
 * Metrics adapter of the tunnel extension: subscribes to a TunnelClient's
 * events and reads the pool at scrape time. Labels are bounded: a service's
 * kind (`ws`, `http`, `other`), never a relay key; per-worker modes are
 * counted, the workers themselves are on the relay page.
 */
export class TunnelMetrics {
  constructor(registry: Registry, pool: Pick<PeerPool, 'connections'>, tunnels: TunnelClient) {
    const registers = [registry]
    const open = new Gauge({
      name: 'hypertuna_gateway_tunnel_open',
      help: 'Raw tunnels open to workers, by service kind',
      labelNames: ['kind'],
      registers,
    })
    const closed = new Counter({
      name: 'hypertuna_gateway_tunnel_closed_total',
      help: 'Raw tunnels that ended, by service kind and outcome (ok or a lower-case error code)',
      labelNames: ['kind', 'outcome'],
      registers,
    })
    const bytes = new Counter({
      name: 'hypertuna_gateway_tunnel_bytes_total',
      help: 'Bytes carried by raw tunnels that ended, by direction (in: from workers)',
      labelNames: ['direction'],
      registers,
    })
    new Gauge({
      name: 'hypertuna_gateway_tunnel_peer_modes',
      help: 'Open worker links by how sessions reach the worker: tunnel (raw) or relay_v2',
      labelNames: ['mode'],
      registers,
      collect() {
        let tunnel = 0
        let relayV2 = 0
        for (const conn of pool.connections()) {
          if (conn.link === null) continue
          if (tunnels.tunnels(conn.key)) tunnel++
          else relayV2++
        }
        this.set({ mode: 'tunnel' }, tunnel)
        this.set({ mode: 'relay_v2' }, relayV2)
      },
    })
    tunnels.on('open', (_peer: string, service: string) => open.inc({ kind: serviceKind(service) }))
    tunnels.on('close', (_peer: string, service: string, outcome: TunnelOutcome) => {
      const kind = serviceKind(service)
      open.dec({ kind })
      closed.inc({ kind, outcome: outcome.code === null ? 'ok' : outcome.code.toLowerCase() })
      bytes.inc({ direction: 'in' }, outcome.bytesIn)
      bytes.inc({ direction: 'out' }, outcome.bytesOut)
    })
  }
}

import type { GatewayStore, Registration } from '../shared/store/gateway-store.js'
import type { PeerPool } from '../shared/swarm/peer-pool.js'

/** What the gateway's front page shows. */
export interface GatewayHealth {
  /** This proxy accepts sessions (pool started, not stopping). */
  proxy: 'ok' | 'stopping'
  store: 'ok' | 'unreachable'
  relaysRegistered: number
  /** Registered relays with at least one worker a proxy reports ready. */
  relaysOnline: number
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

/** HTML-escapes text for element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string)
}

const STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem}' +
  'code{background:#eee;padding:.1rem .3rem;word-break:break-all}' +
  'dt{font-weight:600}dd{margin:0 0 .5rem}.ok{color:#176b2c}.bad{color:#a11}'

/** A page shell with the gateway's style; `body` is trusted HTML. */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>
${body}
</body></html>
`
}

/**
 * Gateway health for the front page, from the store (registrations and every proxy's report) and
 * this proxy's own pool. Cached for `cacheMs`, so a busy front page costs one store read per
 * interval whatever its traffic.
 */
export class GatewayHealthView {
  readonly #store: GatewayStore
  readonly #pool: PeerPool
  readonly #cacheMs: number
  #cached: { at: number; value: Promise<GatewayHealth> } | null = null

  constructor(store: GatewayStore, pool: PeerPool, cacheMs = 5_000) {
    this.#store = store
    this.#pool = pool
    this.#cacheMs = cacheMs
  }

  health(stopping: boolean): Promise<GatewayHealth> {
    const now = Date.now()
    if (this.#cached === null || now - this.#cached.at > this.#cacheMs) {
      this.#cached = { at: now, value: this.#read() }
    }
    return this.#cached.value.then((h) => ({ ...h, proxy: stopping ? 'stopping' : h.proxy }))
  }

  async #read(): Promise<GatewayHealth> {
    try {
      const [relays, reports] = await Promise.all([
        this.#store.listRegistrations(),
        this.#store.listProxyReports(),
      ])
      const ready = new Set(this.#pool.keysInState('ready'))
      for (const report of reports) {
        for (const [key, entry] of Object.entries(report.peers))
          if (entry.state === 'ready') ready.add(key)
      }
      const online = relays.filter((r: Registration) => r.peers.some((p) => ready.has(p))).length
      return { proxy: 'ok', store: 'ok', relaysRegistered: relays.length, relaysOnline: online }
    } catch {
      this.#cached = null
      return { proxy: 'ok', store: 'unreachable', relaysRegistered: 0, relaysOnline: 0 }
    }
  }
}

/** The front page `/`: is the gateway up, how many relays are online. Never lists relays. */
export function statusPage(health: GatewayHealth): string {
  const mark = (ok: boolean, text: string) =>
    `<span class="${ok ? 'ok' : 'bad'}">${escapeHtml(text)}</span>`
  return page(
    'Hypertuna gateway',
    `<h1>Hypertuna gateway</h1>
<p>This gateway publishes Nostr relays that their owners host behind NAT, over Hypertuna.</p>
<dl>
<dt>Gateway</dt><dd id="gateway-health">${mark(health.proxy === 'ok', health.proxy === 'ok' ? 'up' : 'shutting down')}</dd>
<dt>Registration store</dt><dd id="store-health">${mark(health.store === 'ok', health.store === 'ok' ? 'reachable' : 'unreachable')}</dd>
<dt>Relays online</dt><dd id="relays-online">${health.relaysOnline} of ${health.relaysRegistered} registered</dd>
</dl>
<p>Open a relay's address (<code>/&lt;relay&gt;</code>) in a browser to see whether it is reachable.</p>`,
  )
}

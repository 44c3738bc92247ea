import type Hyperswarm from 'hyperswarm'
import type { Logger } from 'pino'
import type { BootstrapNode } from '../shared/config/gateway-config.js'
import { createSwarm } from '../shared/swarm/create-swarm.js'
import { httpService, wsService } from '../shared/tunnel/tunnel-wire.js'
import type { TunnelTarget } from '../shared/tunnel/tunnel-host.js'
import { RegistrarClient } from '../shared/worker/registrar-client.js'
import type { RegisterResult, TokenGrant } from '../shared/worker/registrar-client.js'
import { RelayHost } from '../shared/worker/relay-host.js'
import { shareUrl } from '../shared/worker/share-url.js'
import { WsRelayBackend } from '../shared/worker/ws-relay-backend.js'
import { causeText } from './admin-client.js'
import { CliError, ExitCode } from './cli-error.js'
import { TunnelHttpService } from './expose-tunnel.js'
import type { TunnelPlan } from './expose-tunnel.js'

/** Options of {@link ExposeWorker}. */
export interface ExposeWorkerOptions {
  relayUrl: string
  gateway: string
  secret: string
  /** Sign as this worker account (then `secret` is its secret). */
  workerId?: string
  relayKey: string
  /** gatewayPath alias; the relay key is the path when absent. */
  path?: string
  name?: string
  tokenTtlSeconds?: number
  bootstrap: readonly BootstrapNode[]
  host?: string
  seed?: Buffer
  logger: Logger
  progress: (line: string) => void
  /** Dial out to the gateway nodes the registrar publishes (default false). */
  dialOut?: boolean
  /** `--mode tunnel`: the local services the gateway's tunnels reach; absent: direct. */
  tunnel?: TunnelPlan
}

/** What {@link ExposeWorker.start} found. */
export interface Exposed {
  relayKey: string
  workerKey: string
  publicUrl: string
  shareUrl: string
  token: TokenGrant
  info: Record<string, unknown> | null
}

/**
 * `expose` as a library: a RelayHost whose backend opens one WebSocket to the local relay per
 * gateway client, registered (and renewed) with the gateway's registrar. Start-up checks each
 * slow step and fails with a {@link CliError} saying which end was unreachable.
 */
export class ExposeWorker {
  readonly backend: WsRelayBackend
  readonly client: RegistrarClient
  readonly #o: ExposeWorkerOptions
  #swarm: Hyperswarm | null = null
  #httpService: TunnelHttpService | null = null
  #host: RelayHost | null = null
  #registered = false
  #unregistered = false
  #closing: Promise<void> | null = null

  constructor(options: ExposeWorkerOptions) {
    this.#o = options
    this.backend = new WsRelayBackend({ url: options.relayUrl })
    this.client = new RegistrarClient({
      registrarUrl: options.gateway,
      secret: options.secret,
      ...(options.workerId === undefined ? {} : { workerId: options.workerId }),
      logger: options.logger,
    })
  }

  /** Started with `--mode tunnel`. */
  get tunnelMode(): boolean {
    return this.#o.tunnel !== undefined
  }

  /** Raw tunnels open to this worker now (tunnel mode). */
  get tunnels(): number {
    return this.#host?.tunnelCount ?? 0
  }

  /** Gateway channels open to this worker now. */
  get gatewayLinks(): number {
    return this.#host?.channelCount ?? 0
  }

  async start(): Promise<Exposed> {
    const o = this.#o
    o.progress(`checking the local relay ${o.relayUrl} ...`)
    try {
      await this.backend.probe()
    } catch (err) {
      throw new CliError(
        ExitCode.LOCAL_RELAY,
        'local_relay_unreachable',
        `the local relay ${o.relayUrl} is unreachable: ${causeText(err)}`,
      )
    }
    const info = await fetchRelayInfo(o.relayUrl)
    o.progress(`checking the gateway ${o.gateway} ...`)
    try {
      await this.client.capabilities()
    } catch (err) {
      throw new CliError(
        ExitCode.GATEWAY,
        'gateway_unreachable',
        `the gateway ${o.gateway} is unreachable: ${causeText(err)}`,
      )
    }
    const dht =
      o.bootstrap.length === 0
        ? 'the public DHT'
        : o.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
    o.progress(`joining ${dht} and announcing the worker ...`)
    this.#swarm = createSwarm({
      bootstrap: o.bootstrap,
      ...(o.host === undefined ? {} : { host: o.host }),
      ...(o.seed === undefined ? {} : { seed: o.seed }),
    })
    const name = o.name ?? (typeof info?.name === 'string' ? info.name : undefined)
    const tunnels = o.tunnel === undefined ? undefined : await this.#tunnelServices(o.tunnel)
    this.#host = new RelayHost({
      swarm: this.#swarm,
      logger: o.logger,
      relays: [
        {
          relayKey: o.relayKey,
          backend: this.backend,
          ...(info === null ? {} : { info: () => info }),
        },
      ],
      ...(tunnels === undefined ? {} : { tunnels }),
    })
    await this.#host.start()
    this.#assertRunning()
    o.progress(`registering relay ${o.relayKey} (worker ${this.#host.publicKey.slice(0, 16)}…) ...`)
    let registered: RegisterResult
    try {
      registered = await this.client.register({
        relayKey: o.relayKey,
        peers: [this.#host.publicKey],
        metadata: {
          ...(name === undefined ? {} : { name }),
          ...(typeof info?.description === 'string' ? { description: info.description } : {}),
          ...(o.path === undefined ? {} : { gatewayPath: o.path }),
        },
      })
    } catch (err) {
      throw new CliError(
        ExitCode.GATEWAY,
        'registration_refused',
        `registration failed: ${(err as Error).message}`,
      )
    }
    this.#registered = true
    this.#assertRunning()
    this.client.startRenewal()
    // Besides announcing on the DHT (the gateway dials in), keep links out to the gateway's
    // nodes when it publishes them: then this worker's own NAT never has to accept anything.
    const targets = registered.gateway
    if (o.dialOut === true && targets !== undefined && targets.gatewayKeys.length > 0) {
      o.progress(`dialling out to ${targets.gatewayKeys.length} gateway node(s) ...`)
      this.#host.dialGateways(targets)
    }
    const token = await this.client.issueToken(o.relayKey, {
      ...(o.tokenTtlSeconds === undefined ? {} : { ttlSeconds: o.tokenTtlSeconds }),
    })
    const publicUrl = registered.publicUrl ?? o.gateway
    return {
      relayKey: o.relayKey,
      workerKey: this.#host.publicKey,
      publicUrl,
      shareUrl: shareUrl(publicUrl, o.path ?? o.relayKey, token.token),
      token,
      info,
    }
  }

  // Tunnel mode: the relay's WebSocket port and (when given) its HTTP service, by the names the
  // gateway asks for. Gateways without the extension still get relay-v2 from the same worker.
  async #tunnelServices(plan: TunnelPlan): Promise<Record<string, TunnelTarget>> {
    const key = this.#o.relayKey
    this.#httpService = new TunnelHttpService(plan.http)
    const http = await this.#httpService.start(key)
    const where = (s: TunnelTarget) => `${s.host ?? '127.0.0.1'}:${s.port}`
    this.#o.progress(
      `tunnel mode: relay ${where(plan.relay)}` +
        (http === null
          ? ', no HTTP service (/drive, /pfp)'
          : `, HTTP ${plan.http?.kind === 'files' ? `files from ${plan.http.dir} on ` : ''}${where(http)}`),
    )
    return {
      [wsService(key)]: plan.relay,
      ...(http === null ? {} : { [httpService(key)]: http }),
    }
  }

  // Stopped (SIGINT) while starting: go no further; close() undoes what was done.
  #assertRunning(): void {
    if (this.#closing !== null) {
      throw new CliError(ExitCode.OK, 'stopped', 'stopped before the relay was online')
    }
  }

  /** Unregisters (when registered), then closes host, swarm and backend. Idempotent. */
  close(): Promise<{ unregistered: boolean }> {
    this.#closing ??= (async () => {
      if (this.#registered) {
        try {
          await this.client.unregister(this.#o.relayKey)
          this.#unregistered = true
        } catch (err) {
          this.#o.progress(`unregistering failed (it lapses by itself): ${(err as Error).message}`)
        }
      }
      await this.client.close()
      await this.#host?.close()
      await this.#httpService?.close()
      this.backend.close()
      await this.#swarm?.destroy()
    })()
    return this.#closing.then(() => ({ unregistered: this.#unregistered }))
  }
}

// NIP-11 from the local relay (same host, http(s)), for the registration's name and the
// gateway's relay page; best effort.
async function fetchRelayInfo(relayUrl: string): Promise<Record<string, unknown> | null> {
  const url = relayUrl.replace(/^ws/, 'http')
  try {
    const res = await fetch(url, {
      headers: { accept: 'application/nostr+json' },
      signal: AbortSignal.timeout(3_000),
    })
    if (!res.ok) return null
    const doc: unknown = await res.json()
    return typeof doc === 'object' && doc !== null && !Array.isArray(doc)
      ? (doc as Record<string, unknown>)
      : null
  } catch {
    return null
  }
}

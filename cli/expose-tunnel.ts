import { statSync } from 'node:fs'
import { join } from 'node:path'
import { DriveFileServer } from '../shared/worker/drive-file-server.js'
import { usageError } from './cli-error.js'
import type { CommandContext } from './command.js'
import { stringFlag } from './command.js'

/** A local TCP service a tunnel connects to. */
export interface LocalService {
  host: string
  port: number
}

/**
 * `expose --mode tunnel`: what the gateway's tunnels connect to on this machine. The relay's
 * WebSocket service comes from the ws:// URL; the HTTP service answering `/drive` and `/pfp`
 * is the user's own (`--http`), the built-in file server over a directory (`--files`), or none.
 */
export interface TunnelPlan {
  relay: LocalService
  http: { kind: 'service'; service: LocalService } | { kind: 'files'; dir: string } | null
}

const PORT_ONLY = /^\d{1,5}$/
const HOST_PORT = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/

/** The --help lines of the tunnel flags. */
export const TUNNEL_HELP = `  --mode direct|tunnel    direct (default): the worker relays each Nostr message (relay-v2);
                          tunnel: client connections reach the local relay as byte streams
                          (gateways without tunnel support still get direct)
  --http <[host:]port>    tunnel mode: your HTTP service answering /drive/<relay-key>/<file>
                          and /pfp/<file>; the gateway streams its answers (Range too)
  --files <dir>           tunnel mode: serve <dir> at /drive/<relay-key>/<file> and <dir>/pfp
                          at /pfp/ with the built-in file server (instead of --http)`

/** Reads --mode, --http and --files; null for direct mode. Usage errors say what is wrong. */
export function tunnelPlan(values: CommandContext['values'], relayUrl: string): TunnelPlan | null {
  const mode = stringFlag(values, 'mode')
  const http = stringFlag(values, 'http')
  const files = stringFlag(values, 'files')
  if (mode !== 'direct' && mode !== 'tunnel') {
    throw usageError('expose: --mode must be direct or tunnel')
  }
  if (mode === 'direct') {
    if (http !== undefined || files !== undefined) {
      throw usageError('expose: --http and --files need --mode tunnel')
    }
    return null
  }
  if (http !== undefined && files !== undefined) {
    throw usageError('expose: give --http or --files, not both')
  }
  const url = new URL(relayUrl)
  if (url.protocol !== 'ws:') {
    throw usageError(
      'expose: --mode tunnel passes the bytes to the local relay as they are: give its ws:// URL',
    )
  }
  const relay = { host: bare(url.hostname), port: Number(url.port === '' ? 80 : url.port) }
  if (http !== undefined) return { relay, http: { kind: 'service', service: parseService(http) } }
  if (files !== undefined) {
    let isDir = false
    try {
      isDir = statSync(files).isDirectory()
    } catch {
      // reported below
    }
    if (!isDir) throw usageError(`expose: --files ${files} is not a directory`)
    return { relay, http: { kind: 'files', dir: files } }
  }
  return { relay, http: null }
}

/**
 * The HTTP service of a {@link TunnelPlan} while `expose` runs: the built-in file server for
 * `--files` (started on 127.0.0.1, a free port), the user's service for `--http`.
 */
export class TunnelHttpService {
  readonly #plan: TunnelPlan['http']
  #files: DriveFileServer | null = null

  constructor(plan: TunnelPlan['http']) {
    this.#plan = plan
  }

  /** The local service the worker names for `relayKey`'s HTTP tunnel, or null for none. */
  async start(relayKey: string): Promise<LocalService | null> {
    const plan = this.#plan
    if (plan === null) return null
    if (plan.kind === 'service') return plan.service
    this.#files = new DriveFileServer({
      root: plan.dir,
      identifiers: [relayKey],
      avatars: join(plan.dir, 'pfp'),
    })
    return this.#files.start()
  }

  async close(): Promise<void> {
    await this.#files?.close()
  }
}

function parseService(text: string): LocalService {
  const match = PORT_ONLY.test(text) ? [text, '127.0.0.1', text] : HOST_PORT.exec(text)
  const port = Number(match?.[2])
  if (match === null || !(port >= 1 && port <= 65535)) {
    throw usageError(`expose: --http ${text} is not a port or host:port`)
  }
  return { host: bare(match[1] as string), port }
}

// `[::1]` as URLs write it; net.connect wants `::1`.
function bare(host: string): string {
  return host.startsWith('[') ? host.slice(1, -1) : host
}

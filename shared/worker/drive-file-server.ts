import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import send from 'send'
import { SERVER_TIMEOUTS } from '../process/server-timeouts.js'

/** Options of {@link DriveFileServer}. */
export interface DriveFileServerOptions {
  /** Directory whose files `/drive/<identifier>/<file>` serves (one path segment, no dotfiles). */
  root: string
  /**
   * Identifiers accepted as `<identifier>` (relay key, alias): others get 404, so one server
   * never answers for a relay it was not set up for. Empty or absent: any identifier.
   */
  identifiers?: readonly string[]
  /** Directory for `/pfp/<file>` and `/pfp/<owner>/<file>` (`<owner>/<file>` below it); none: 404. */
  avatars?: string
  /** Address to listen on; default 127.0.0.1 (the worker's tunnel connects there). */
  host?: string
  /** Port; default 0 (a free one). */
  port?: number
}

/**
 * The worker's local HTTP file service in tunnel mode: answers the gateway's `/drive` and
 * `/pfp` paths (docs/protocol.md) from directories on disk, streamed, with Range, HEAD and
 * conditional GET (ETag, Last-Modified) as `send` implements them. The gateway forwards the
 * client's request to it byte for byte through the tunnel, so nothing here is gateway-specific:
 * any HTTP server answering those paths can take its place (`expose --http`).
 */
export class DriveFileServer {
  readonly #o: DriveFileServerOptions
  readonly #ids: ReadonlySet<string>
  #server: Server | null = null
  #closing: Promise<void> | null = null

  constructor(options: DriveFileServerOptions) {
    this.#o = options
    this.#ids = new Set(options.identifiers ?? [])
  }

  /** The port it listens on (after {@link start}). */
  get port(): number {
    return (this.#server?.address() as AddressInfo | null)?.port ?? 0
  }

  async start(): Promise<{ host: string; port: number }> {
    if (this.#server !== null) return { host: this.#host, port: this.port }
    const server = createServer(SERVER_TIMEOUTS, (req, res) => this.#serve(req, res))
    // Sockets error when a client (the tunnel) goes away mid-answer; nothing to do but close.
    server.on('clientError', (_err, socket) => socket.destroy())
    this.#server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.#o.port ?? 0, this.#host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    return { host: this.#host, port: this.port }
  }

  /** Stops listening and cuts open connections (a download in flight ends). Idempotent. */
  close(): Promise<void> {
    const server = this.#server
    if (server === null) return Promise.resolve()
    this.#closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
    return this.#closing
  }

  get #host(): string {
    return this.#o.host ?? '127.0.0.1'
  }

  #serve(req: IncomingMessage, res: ServerResponse): void {
    res.on('error', () => res.destroy())
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return plain(res, 405, 'method not allowed', { allow: 'GET, HEAD' })
    }
    const pathname = (req.url ?? '/').split('?', 1)[0] as string
    const parts = pathname.split('/').slice(1)
    let root: string | undefined
    let file: string | undefined
    if (parts[0] === 'drive' && parts.length === 3 && this.#accepts(parts[1] as string)) {
      root = this.#o.root
      file = `/${parts[2]}`
    } else if (parts[0] === 'pfp' && (parts.length === 2 || parts.length === 3)) {
      root = this.#o.avatars
      file = `/${parts.slice(1).join('/')}`
    }
    if (root === undefined || file === undefined || file.endsWith('/')) {
      return plain(res, 404, 'not found')
    }
    // `send` decodes the path, refuses `..` and dotfiles, and stays below `root`.
    send(req, file, { root, dotfiles: 'deny', index: false, cacheControl: false })
      .on('error', (err: { status?: number }) => {
        const status = err.status ?? 500
        plain(res, status === 403 ? 404 : status, status >= 500 ? 'read error' : 'not found')
      })
      .on('directory', () => plain(res, 404, 'not found'))
      .pipe(res)
  }

  #accepts(identifier: string): boolean {
    if (this.#ids.size === 0) return true
    try {
      return this.#ids.has(decodeURIComponent(identifier))
    } catch {
      return false
    }
  }
}

function plain(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  })
  res.end(text)
}

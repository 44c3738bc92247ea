import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import { WebSocketServer } from 'ws'
import type { WebSocket } from 'ws'
import { CloseCode } from './close-codes.js'
import type { ProxyMetrics } from './proxy-metrics.js'
import { RelaySession } from './relay-session.js'
import type { SessionContext } from './session-context.js'
import type { Admission, SessionGate } from './session-gate.js'
import type { SessionRegistry } from './session-registry.js'
import type { TunnelWs } from './tunnel-ws.js'

/** Options of {@link UpgradeHandler}. */
export interface UpgradeHandlerOptions {
  gate: Pick<SessionGate, 'admit'>
  tunnelWs: Pick<TunnelWs, 'forward'>
  sessions: Pick<SessionRegistry, 'add'>
  /** What every relay-v2 session it opens shares. */
  context: SessionContext
  metrics: ProxyMetrics
  logger: Logger
  maxFrameBytes: number
  /** True once the server is shutting down: new upgrades are refused with 1001 from then on. */
  draining: () => boolean
}

/**
 * A client's WebSocket upgrade: admitted by the session gate, then tunnelled to a worker that
 * serves the relay's WebSocket itself, or opened as a relay-v2 session; a refusal is written
 * as a close code (and NOTICE) on a completed upgrade.
 */
export class UpgradeHandler {
  readonly #o: UpgradeHandlerOptions
  readonly #log: Logger
  readonly #wss: WebSocketServer

  constructor(opts: UpgradeHandlerOptions) {
    this.#o = opts
    this.#log = opts.logger
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: opts.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
    })
  }

  /** Handles one `upgrade` event of the HTTP server; never rejects. */
  async handle(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', (err) => this.#log.debug({ err: err.message }, 'upgrade socket error'))
    let admission: Admission
    if (this.#o.draining()) {
      admission = { ok: false, code: CloseCode.GOING_AWAY, reason: 'gateway shutting down' }
    } else {
      try {
        admission = await this.#o.gate.admit(req)
      } catch (err) {
        this.#log.error({ err }, 'session admission failed')
        admission = { ok: false, code: CloseCode.INTERNAL, reason: 'internal error' }
      }
    }
    if (admission.ok) {
      // Whatever happens next (a handshake ws aborts, a session that never starts, a
      // normal close), the socket closes once, and then the session's slot is free.
      const { slot } = admission
      socket.once('close', () => slot.release())
      if (socket.destroyed) slot.release()
    }
    if (socket.destroyed) return
    if (admission.ok) {
      const refused = (code: number, reason: string): void =>
        this.#complete(req, socket, head, { ok: false, code, reason })
      try {
        if (await this.#o.tunnelWs.forward(req, socket, head, admission.identity, refused)) return
      } catch (err) {
        this.#log.error({ err }, 'tunnelled session failed to start')
        admission = { ok: false, code: CloseCode.INTERNAL, reason: 'internal error' }
      }
      if (socket.destroyed) return
    }
    this.#complete(req, socket, head, admission)
  }

  /** Closes the WebSocket server; sessions already open are the registry's to close. */
  close(): void {
    this.#wss.close()
  }

  // A relay-v2 session, or a refusal: legacy clients read it from the close code, so the
  // upgrade completes first.
  #complete(req: IncomingMessage, socket: Duplex, head: Buffer, admission: Admission): void {
    this.#wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      // From the first moment: a refused or 1013 socket still parses what the client sends,
      // and an invalid frame is an 'error' event that would otherwise end the process.
      ws.on('error', (err) => this.#log.debug({ err: err.message }, 'client socket error'))
      if (!admission.ok) {
        this.#log.info({ code: admission.code, reason: admission.reason }, 'session refused')
        if (admission.notice !== undefined) ws.send(JSON.stringify(['NOTICE', admission.notice]))
        ws.close(admission.code, admission.reason)
        this.#o.metrics.sessionsRefused.inc({ code: String(admission.code) })
        return
      }
      const session = new RelaySession(ws, admission.identity, this.#o.context)
      this.#o.sessions.add(session)
      this.#log.debug(
        {
          connectionKey: session.connectionKey,
          relayKey: admission.identity.registration.relayKey,
          ip: admission.identity.ip,
        },
        'session open',
      )
      session.start()
    })
  }
}

import { Agent } from 'node:http'
import type { AgentOptions, ClientRequestArgs } from 'node:http'
import type { Duplex } from 'node:stream'

/**
 * An http.Agent whose sockets are tunnels to one service of one worker: use
 * it with http.request or http-proxy (`{ target: 'http://tunnel', agent }`);
 * the target's host and port only name the Host header. Kept-alive sockets
 * are tunnels left open for the next request; a lost link closes them.
 */
export class TunnelAgent extends Agent {
  readonly #open: () => Duplex

  constructor(open: () => Duplex, opts: AgentOptions = {}) {
    super({ keepAlive: true, ...opts })
    this.#open = open
  }

  override createConnection(
    _options: ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    try {
      return this.#open()
    } catch (err) {
      // http's agent reports it as the request's 'error'.
      callback?.(err as Error, null as unknown as Duplex)
      return undefined
    }
  }
}

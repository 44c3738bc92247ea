import type { Logger } from 'pino'
import type { ChangeListener, StoreChange } from './gateway-store.js'
import { RedisConnection, errorText } from './redis-connection.js'
import type { RedisConnectionOptions } from './redis-connection.js'
import { parseStoreChange } from './store-values.js'

/** Options of {@link RedisChangeFeed}: a connection's settings and the channel to follow. */
export interface RedisChangeFeedOptions extends Omit<RedisConnectionOptions, 'onReady'> {
  channel: string
}

/**
 * RedisStore's change feed: a subscriber connection of its own on one pub/sub channel, whose
 * messages (checked) go to every listener. Pub/sub keeps nothing for absent subscribers, so a
 * resubscription after a gap is announced as `resync`.
 */
export class RedisChangeFeed {
  readonly #connection: RedisConnection
  readonly #channel: string
  readonly #log: Logger
  readonly #listeners = new Set<ChangeListener>()
  #wasLive = false

  constructor(options: RedisChangeFeedOptions) {
    const { channel, ...connection } = options
    this.#channel = channel
    this.#log = options.logger
    this.#connection = new RedisConnection({
      ...connection,
      onReady: (feed) => this.#subscribe(feed),
    })
    this.#connection.client.on('message', this.#onMessage)
  }

  /** Adds a listener; returns its removal. */
  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  /** Resolves once subscribed and answering; rejects otherwise. */
  async ping(): Promise<void> {
    await this.#connection.usable()
    await this.#connection.client.ping()
  }

  async close(): Promise<void> {
    this.#listeners.clear()
    await this.#connection.close()
    this.#connection.client.off('message', this.#onMessage)
  }

  #subscribe(feed: RedisConnection): void {
    feed.client.subscribe(this.#channel).then(
      () => {
        feed.markLive()
        if (this.#wasLive) this.#notify({ type: 'resync' })
        this.#wasLive = true
      },
      // The next reconnect subscribes again; until then ping() reports the feed down.
      (err: unknown) => this.#log.warn({ error: errorText(err) }, 'change feed subscribe failed'),
    )
  }

  readonly #onMessage = (channel: string, message: string): void => {
    if (channel !== this.#channel) return
    let change: StoreChange | null
    try {
      change = parseStoreChange(JSON.parse(message))
    } catch {
      change = null
    }
    if (change === null) {
      this.#log.warn('ignoring a malformed change-feed message')
      return
    }
    this.#notify(change)
  }

  #notify(change: StoreChange): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(change)
      } catch (err) {
        this.#log.error({ err, change: change.type }, 'store change listener threw')
      }
    }
  }
}

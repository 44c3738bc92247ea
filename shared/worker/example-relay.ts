import type { NostrEvent } from 'nostr-tools/core'
import { verifyEvent } from 'nostr-tools/pure'
import { ErrorCode, GatewayError } from '../errors.js'
import { EventStore } from './event-store.js'
import { matchFilter, parseFilter } from './nostr-filter.js'
import type { Filter } from './nostr-filter.js'

/** Limits and hooks of an {@link ExampleRelay}; every field is optional. */
export interface ExampleRelayOptions {
  /** Stored events kept; past it the oldest (by `created_at`) are evicted. Default 10,000. */
  maxEvents?: number
  /** Open subscriptions one connection may hold. Default 20. */
  maxSubscriptionsPerConnection?: number
  /** Filters one REQ may carry. Default 10. */
  maxFiltersPerReq?: number
  /** Most stored events one REQ filter returns, also when it has no `limit`. Default 500. */
  maxLimit?: number
  /** Checks an event's id and signature. Default: nostr-tools `verifyEvent`. */
  verify?: (event: NostrEvent) => boolean
}

/** Receives a serialized relay message (one JSON array) for a connection. */
export type OutputListener = (connectionKey: string, line: string) => void

interface Subscription {
  readonly filters: readonly Filter[]
  // `["EVENT",<subId>,` so a delivery is two concatenations around the cached event JSON.
  readonly prefix: string
}

const HEX64 = /^[0-9a-f]{64}$/
const HEX128 = /^[0-9a-f]{128}$/
const MAX_SUB_ID = 64

/**
 * An in-memory NIP-01 relay backend keyed by connection, shaped like a Hypertuna worker's
 * relay: the host feeds it each client message with the connection's `connectionKey`, sends
 * back the returned reply lines, and forwards later output (live events for open
 * subscriptions) from {@link ExampleRelay.onOutput}. For tests, the demo and benchmarks.
 */
export class ExampleRelay {
  private readonly store: EventStore
  private readonly connections = new Map<string, Map<string, Subscription>>()
  private readonly listeners = new Set<OutputListener>()
  private readonly maxSubscriptions: number
  private readonly maxFilters: number
  private readonly maxLimit: number
  private readonly verify: (event: NostrEvent) => boolean
  private closed = false

  /** @throws GatewayError `CONFIG_INVALID` when a limit is not a positive integer. */
  constructor(opts: ExampleRelayOptions = {}) {
    this.store = new EventStore(positiveInt('maxEvents', opts.maxEvents, 10_000))
    this.maxSubscriptions = positiveInt(
      'maxSubscriptionsPerConnection',
      opts.maxSubscriptionsPerConnection,
      20,
    )
    this.maxFilters = positiveInt('maxFiltersPerReq', opts.maxFiltersPerReq, 10)
    this.maxLimit = positiveInt('maxLimit', opts.maxLimit, 500)
    this.verify = opts.verify ?? verifyEvent
  }

  /**
   * Handles one parsed client message (`EVENT`, `REQ` or `CLOSE`) and returns the immediate
   * reply lines, each one serialized relay message. Never throws: malformed input is answered
   * with `NOTICE`, `CLOSED` or `OK false`. An accepted `EVENT` is delivered to matching
   * subscriptions (the sender's included) through the output listeners synchronously, before
   * this returns.
   */
  handleMessage(connectionKey: string, message: unknown): string[] {
    if (this.closed) return [notice('error: relay is closed')]
    if (typeof connectionKey !== 'string' || connectionKey === '') {
      return [notice('error: missing connection key')]
    }
    if (!Array.isArray(message)) return [notice('invalid: message must be a JSON array')]
    try {
      const verb: unknown = message[0]
      switch (verb) {
        case 'EVENT':
          return this.onEvent(message)
        case 'REQ':
          return this.onReq(connectionKey, message)
        case 'CLOSE':
          return this.onClose(connectionKey, message)
        default:
          return [
            notice(
              typeof verb === 'string'
                ? `invalid: unsupported message type ${JSON.stringify(truncate(verb))}`
                : 'invalid: message must start with a message type string',
            ),
          ]
      }
    } catch {
      // Only a bug in this class can land here; the host still gets a well-formed answer.
      return [notice('error: internal relay error')]
    }
  }

  /**
   * Registers a listener for asynchronous output. Without any listener, live deliveries are
   * dropped. A listener that throws does not stop other listeners or corrupt relay state; its
   * error is rethrown from a microtask so it still surfaces. Returns an unsubscribe function.
   */
  onOutput(listener: OutputListener): () => void {
    if (this.closed) return () => {}
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  /** Drops every subscription of a connection (a client socket went away). */
  closeConnection(connectionKey: string): void {
    this.connections.delete(connectionKey)
  }

  /** Ids of a connection's open subscriptions, in the order they were opened. */
  subscriptions(connectionKey: string): string[] {
    return [...(this.connections.get(connectionKey)?.keys() ?? [])]
  }

  /** Drops all events, subscriptions and listeners. Idempotent. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.connections.clear()
    this.listeners.clear()
    this.store.clear()
  }

  private onEvent(message: unknown[]): string[] {
    if (message.length !== 2) return [notice('invalid: EVENT message must be ["EVENT", <event>]')]
    const raw = message[1]
    const event = parseEvent(raw)
    if (typeof event === 'string') {
      const id = idOf(raw)
      return [id === undefined ? notice(`invalid: ${event}`) : ok(id, false, `invalid: ${event}`)]
    }
    if (!this.verify(event)) return [ok(event.id, false, 'invalid: bad event id or signature')]
    const json = JSON.stringify(event)
    if (!isEphemeral(event.kind)) {
      const result = this.store.add(event, json)
      if (result === 'duplicate') return [ok(event.id, true, 'duplicate: already have this event')]
      // Accepted but not stored: a client retrying on `false` would resend the same stale state.
      if (result === 'superseded') {
        return [ok(event.id, true, 'duplicate: have a newer version of this replaceable event')]
      }
    }
    this.deliver(event, json)
    return [ok(event.id, true, '')]
  }

  private onReq(connectionKey: string, message: unknown[]): string[] {
    const subId = message[1]
    if (!isSubId(subId)) {
      const reason = `must be a non-empty string of at most ${MAX_SUB_ID} characters`
      return [notice(`invalid: REQ subscription id ${reason}`)]
    }
    // Whatever this REQ's fate, an earlier subscription under the same id ends: the client is
    // told either CLOSED (so it believes it gone) or that this REQ replaces it.
    this.removeSubscription(connectionKey, subId)
    const inputs = message.slice(2)
    if (inputs.length === 0) return [closed(subId, 'invalid: REQ needs at least one filter')]
    if (inputs.length > this.maxFilters) {
      return [closed(subId, `invalid: too many filters (max ${this.maxFilters})`)]
    }
    const filters: Filter[] = []
    for (const input of inputs) {
      const filter = parseFilter(input)
      if (typeof filter === 'string') return [closed(subId, `invalid: ${filter}`)]
      filters.push(filter)
    }
    let subs = this.connections.get(connectionKey)
    if ((subs?.size ?? 0) >= this.maxSubscriptions) {
      return [closed(subId, 'error: too many subscriptions')]
    }
    if (subs === undefined) {
      subs = new Map()
      this.connections.set(connectionKey, subs)
    }
    const quotedId = JSON.stringify(subId)
    const sub: Subscription = { filters, prefix: `["EVENT",${quotedId},` }
    subs.set(subId, sub)
    const lines = this.store
      .query(filters, this.maxLimit)
      .map((stored) => sub.prefix + stored.json + ']')
    lines.push(`["EOSE",${quotedId}]`)
    return lines
  }

  private onClose(connectionKey: string, message: unknown[]): string[] {
    const subId = message[1]
    if (message.length !== 2 || !isSubId(subId)) {
      return [notice('invalid: CLOSE message must be ["CLOSE", <subscription id>]')]
    }
    this.removeSubscription(connectionKey, subId)
    return [closed(subId, '')]
  }

  private removeSubscription(connectionKey: string, subId: string): void {
    const subs = this.connections.get(connectionKey)
    if (subs === undefined) return
    subs.delete(subId)
    // Hosts rarely call closeConnection for every key; empty entries must not pile up.
    if (subs.size === 0) this.connections.delete(connectionKey)
  }

  private deliver(event: NostrEvent, json: string): void {
    if (this.listeners.size === 0) return
    for (const [connectionKey, subs] of this.connections) {
      for (const sub of subs.values()) {
        if (sub.filters.some((filter) => matchFilter(filter, event))) {
          this.emit(connectionKey, sub.prefix + json + ']')
        }
      }
    }
  }

  private emit(connectionKey: string, line: string): void {
    for (const listener of this.listeners) {
      try {
        listener(connectionKey, line)
      } catch (err) {
        queueMicrotask(() => {
          throw err
        })
      }
    }
  }
}

function isEphemeral(kind: number): boolean {
  return kind >= 20000 && kind < 30000
}

// Copies only the NIP-01 fields: drops extras, detaches stored data from the caller's objects,
// and sheds any verification mark nostr-tools may have cached on the caller's object.
function parseEvent(raw: unknown): NostrEvent | string {
  if (!isRecord(raw)) return 'event must be a JSON object'
  const { id, pubkey, created_at: createdAt, kind, tags, content, sig } = raw
  if (typeof id !== 'string' || !HEX64.test(id)) return 'id must be 64 lowercase hex characters'
  if (typeof pubkey !== 'string' || !HEX64.test(pubkey)) {
    return 'pubkey must be 64 lowercase hex characters'
  }
  if (!isIntInRange(createdAt, 0, Number.MAX_SAFE_INTEGER)) {
    return 'created_at must be a non-negative integer'
  }
  if (!isIntInRange(kind, 0, 65535)) return 'kind must be an integer between 0 and 65535'
  if (!Array.isArray(tags) || !tags.every(isStringArray)) {
    return 'tags must be an array of arrays of strings'
  }
  if (typeof content !== 'string') return 'content must be a string'
  if (typeof sig !== 'string' || !HEX128.test(sig)) {
    return 'sig must be 128 lowercase hex characters'
  }
  const copiedTags = tags.map((tag: string[]) => tag.slice())
  return { id, pubkey, created_at: createdAt, kind, tags: copiedTags, content, sig }
}

function idOf(raw: unknown): string | undefined {
  return isRecord(raw) && typeof raw.id === 'string' && HEX64.test(raw.id) ? raw.id : undefined
}

function isSubId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_SUB_ID
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string')
}

function isIntInRange(value: unknown, min: number, max: number): value is number {
  return Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new GatewayError(ErrorCode.CONFIG_INVALID, `${name} must be a positive integer`, {
      details: { [name]: value },
    })
  }
  return value
}

function ok(id: string, accepted: boolean, message: string): string {
  return JSON.stringify(['OK', id, accepted, message])
}

function closed(subId: string, message: string): string {
  return JSON.stringify(['CLOSED', subId, message])
}

function notice(message: string): string {
  return JSON.stringify(['NOTICE', message])
}

// Echoing an attacker-sized value back would amplify the reply.
function truncate(text: string): string {
  return text.length > 32 ? `${text.slice(0, 32)}...` : text
}

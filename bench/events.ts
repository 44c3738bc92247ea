import { createHash, randomBytes } from 'node:crypto'

/** A NIP-01 event as the bench sends it. */
export interface BenchEvent {
  id: string
  pubkey: string
  created_at: number
  kind: number
  tags: string[][]
  content: string
  sig: string
}

// The backend checks ids, not Schnorr signatures (see bench/README.md): a pure-JS signature
// check costs ~1.7 ms on this machine and would measure the relay's crypto, not the gateway.
// Any 128 hex characters pass the example relay's shape check.
const SIG = 'a'.repeat(128)

/** A random 64-hex key, used as a pubkey that only one scenario's events carry. */
export function randomKey(): string {
  return randomBytes(32).toString('hex')
}

/** The NIP-01 event id: sha256 of `[0, pubkey, created_at, kind, tags, content]`. */
export function eventId(e: Omit<BenchEvent, 'id' | 'sig'>): string {
  const text = JSON.stringify([0, e.pubkey, e.created_at, e.kind, e.tags, e.content])
  return createHash('sha256').update(text).digest('hex')
}

/** True when `event.id` is the hash of its content: the backend's cheap `verify`. */
export function hasValidId(event: BenchEvent): boolean {
  return eventId(event) === event.id
}

let counter = 0

/** A fresh event with a unique id (a counter in the content). */
export function makeEvent(
  pubkey: string,
  kind: number,
  tags: string[][],
  text = 'bench',
): BenchEvent {
  const body = {
    pubkey,
    created_at: Math.floor(Date.now() / 1000),
    kind,
    tags,
    content: `${text} ${++counter} ${Date.now()}`,
  }
  return { id: eventId(body), ...body, sig: SIG }
}

/** The client's `["EVENT", <event>]` frame. */
export function eventFrame(event: BenchEvent): string {
  return `["EVENT",${JSON.stringify(event)}]`
}

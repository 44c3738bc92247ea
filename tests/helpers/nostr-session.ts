import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { AbstractRelay } from 'nostr-tools/abstract-relay'
import { verifyEvent } from 'nostr-tools/pure'
import { WebSocket } from 'ws'
import { note } from './nostr.js'

/** A nostr-tools session (null when it never opened) and the close code and reason it ends with. */
export interface NostrSession {
  relay: AbstractRelay | null
  closed: Promise<[number, string]>
}

export async function nostrSession(url: string): Promise<NostrSession> {
  let ended!: (close: [number, string]) => void
  const closed = new Promise<[number, string]>((resolve) => (ended = resolve))
  class CodeSocket extends WebSocket {
    constructor(address: string) {
      super(address)
      this.once('close', (code, reason) => ended([code, reason.toString()]))
    }
  }
  const relay = await AbstractRelay.connect(url, {
    verifyEvent,
    websocketImplementation: CodeSocket as unknown as typeof globalThis.WebSocket,
  }).catch(() => null)
  // nostr-tools prints NOTICEs (with the URL, token included) unless told where they go.
  if (relay !== null) relay.onnotice = () => {}
  return { relay, closed }
}

/** The close a refused session gets: the upgrade completes, then the code says why. */
export async function refusal(url: string): Promise<[number, string]> {
  return (await nostrSession(url)).closed
}

/** Publishes a note and reads it back to EOSE: the relay is served end to end. */
export async function served(url: string): Promise<void> {
  const { relay, closed } = await nostrSession(url)
  if (relay === null) throw new Error(`not served: ${(await closed).join(' ')}`)
  const event = note(`served ${randomBytes(4).toString('hex')}`)
  await relay.publish(event)
  const ids: string[] = []
  await new Promise<void>((resolve) => {
    const sub = relay.subscribe([{ ids: [event.id] }], {
      onevent: (e) => ids.push(e.id),
      oneose: () => {
        sub.close()
        resolve()
      },
    })
  })
  expect(ids).to.deep.equal([event.id])
  relay.close()
}

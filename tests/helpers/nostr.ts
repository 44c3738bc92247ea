import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure'
import type { NostrEvent } from 'nostr-tools/core'

const secretKey = generateSecretKey()

/**
 * A signed kind-1 note with a tag, for relay tests. A plain JSON copy: nostr-tools
 * marks the events it signs with a symbol that deep-equality would trip on.
 */
export function note(content: string, tags: string[][] = [['t', 'test']]): NostrEvent {
  const event = finalizeEvent(
    { kind: 1, created_at: Math.floor(Date.now() / 1000), tags, content },
    secretKey,
  )
  return JSON.parse(JSON.stringify(event)) as NostrEvent
}

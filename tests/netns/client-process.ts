// Run inside the core namespace (the internet): a nostr-tools client that keeps trying the
// gateway until an EVENT it publishes is accepted (OK true), as a user would retry, and
// prints {ok, ms, attempts, last} with the time from start to that OK.
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure'
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay'
import { WebSocket } from 'ws'
import { issueClientToken } from '../../shared/auth/client-token.js'

useWebSocketImplementation(WebSocket)

const env = process.env
const deadline = Date.now() + Number(env.NETNS_CLIENT_DEADLINE_MS ?? '30000')
const relayKey = env.NETNS_RELAY_KEY ?? ''
const token = issueClientToken(env.NETNS_SECRET ?? '', { relayKey })
const url = `${env.NETNS_PROXY ?? ''}/${relayKey}?token=${token}`

async function once(): Promise<void> {
  const relay = await Relay.connect(url)
  try {
    const event = finalizeEvent(
      { kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content: 'netns' },
      generateSecretKey(),
    )
    await relay.publish(event)
  } finally {
    relay.close()
  }
}

async function main(): Promise<void> {
  const start = Date.now()
  let attempts = 0
  let last = ''
  while (Date.now() < deadline) {
    attempts++
    try {
      await once()
      process.stdout.write(`${JSON.stringify({ ok: true, ms: Date.now() - start, attempts })}\n`)
      process.exit(0)
    } catch (err) {
      last = err instanceof Error ? err.message : String(err)
      await new Promise((r) => setTimeout(r, 250))
    }
  }
  process.stdout.write(`${JSON.stringify({ ok: false, ms: Date.now() - start, attempts, last })}\n`)
  process.exit(0)
}

void main()

// A worker of your own, written on the kit (`hypertuna-gateway/worker`): a tiny relay backend
// that keeps the last 100 notes in memory, hosted over Hyperswarm and registered with a
// gateway. Run it (after `npm run build`):
//
//   GATEWAY_URL=https://gateway.example.com SECRET_FILE=./secret npm run example:worker
//
// Optional: RELAY_KEY (64 hex), BOOTSTRAP (host:port,... for a private DHT), DHT_HOST (bind
// address). It prints the share URL; Ctrl-C unregisters. Outside this repository, import from
// 'hypertuna-gateway/worker' instead of the relative path.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { pino } from 'pino'
import { RegistrarClient, RelayHost, createSwarm } from '../shared/worker/index.js'
import type { RelayBackend } from '../shared/worker/index.js'

type NostrEvent = { id: string; kind: number; [field: string]: unknown }

/** The relay logic: one object per relay, told about each gateway client by its connectionKey. */
class NotesBackend implements RelayBackend {
  readonly #notes: NostrEvent[] = []
  // connectionKey -> subscription id -> kinds it asked for (null: any)
  readonly #subs = new Map<string, Map<string, number[] | null>>()
  readonly #sinks = new Set<(connectionKey: string, line: string) => void>()

  handleMessage(connectionKey: string, message: unknown): string[] {
    if (!Array.isArray(message)) return [JSON.stringify(['NOTICE', 'invalid: not an array'])]
    const [type, ...rest] = message as [unknown, ...unknown[]]
    if (type === 'EVENT') {
      const event = rest[0] as NostrEvent
      // A real relay verifies the signature here (nostr-tools' verifyEvent).
      this.#notes.push(event)
      if (this.#notes.length > 100) this.#notes.shift()
      this.#broadcast(event)
      return [JSON.stringify(['OK', event.id, true, ''])]
    }
    if (type === 'REQ') {
      const id = String(rest[0])
      const kinds = (rest[1] as { kinds?: number[] } | undefined)?.kinds ?? null
      let subs = this.#subs.get(connectionKey)
      if (subs === undefined) this.#subs.set(connectionKey, (subs = new Map()))
      subs.set(id, kinds)
      const stored = this.#notes.filter((e) => kinds === null || kinds.includes(e.kind))
      return [...stored.map((e) => JSON.stringify(['EVENT', id, e])), JSON.stringify(['EOSE', id])]
    }
    if (type === 'CLOSE') this.#subs.get(connectionKey)?.delete(String(rest[0]))
    return []
  }

  // Live output (events for open subscriptions): RelayHost pushes it to the gateway.
  onOutput(listener: (connectionKey: string, line: string) => void): () => void {
    this.#sinks.add(listener)
    return () => this.#sinks.delete(listener)
  }

  closeConnection(connectionKey: string): void {
    this.#subs.delete(connectionKey)
  }

  #broadcast(event: NostrEvent): void {
    for (const [connectionKey, subs] of this.#subs) {
      for (const [id, kinds] of subs) {
        if (kinds !== null && !kinds.includes(event.kind)) continue
        for (const sink of this.#sinks) sink(connectionKey, JSON.stringify(['EVENT', id, event]))
      }
    }
  }
}

const gateway = process.env.GATEWAY_URL ?? 'http://127.0.0.1:8081'
const secret = readFileSync(process.env.SECRET_FILE ?? 'secret', 'utf8').trim()
const relayKey = process.env.RELAY_KEY ?? randomBytes(32).toString('hex')
const bootstrap = (process.env.BOOTSTRAP ?? '')
  .split(',')
  .filter(Boolean)
  .map((entry) => {
    const [host, port] = entry.split(':')
    return { host: host as string, port: Number(port) }
  })

const logger = pino({ level: 'warn' }, pino.destination(2))
const swarm = createSwarm({
  bootstrap,
  ...(process.env.DHT_HOST ? { host: process.env.DHT_HOST } : {}),
})
const backend = new NotesBackend()
const host = new RelayHost({ swarm, logger, relays: [{ relayKey, backend }] })
await host.start()

const client = new RegistrarClient({ registrarUrl: gateway, secret, logger })
const { publicUrl } = await client.register({
  relayKey,
  peers: [host.publicKey],
  metadata: { name: 'My notes relay' },
})
client.startRenewal()
const { token } = await client.issueToken(relayKey)
console.log(client.shareUrl(publicUrl ?? gateway, relayKey, token))

const stop = async () => {
  await client.unregister(relayKey).catch(() => undefined)
  await client.close()
  await host.close()
  await swarm.destroy()
  console.log('unregistered')
  process.exit(0)
}
process.once('SIGINT', () => void stop())
process.once('SIGTERM', () => void stop())

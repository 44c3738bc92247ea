import { get as httpGet } from 'node:http'
import { get as httpsGet } from 'node:https'
import type { IncomingMessage } from 'node:http'
import { AbstractRelay } from 'nostr-tools/abstract-relay'
import type { AbstractRelayConstructorOptions } from 'nostr-tools/abstract-relay'
import type { NostrEvent } from 'nostr-tools/core'
import { finalizeEvent, generateSecretKey, verifyEvent } from 'nostr-tools/pure'
import { WebSocket } from 'ws'

const TIMEOUT_MS = 20_000

/** What the self-check saw. */
export interface SelfCheckResult {
  /** The note published and read back. */
  event: NostrEvent
  /** Bytes of the /drive file as downloaded. */
  drive: Buffer
}

/**
 * Does what a user would: publishes a signed note to the relay URL over the real edge (Caddy's
 * TLS when `ca` is given), reads it back with a REQ, and downloads the /drive file.
 */
export async function selfCheck(options: {
  relayUrl: string
  driveUrl: string
  /** Root certificate to trust (Caddy's internal CA); null for plain ws/http. */
  ca: string | null
  /** Aborting ends the check at once (Ctrl-C while it runs). */
  signal: AbortSignal
}): Promise<SelfCheckResult> {
  const relay = new AbstractRelay(options.relayUrl, {
    verifyEvent,
    // nostr-tools types this as the DOM WebSocket; `ws` is what it runs on in Node 20.
    websocketImplementation: webSocketTrusting(
      options.ca,
    ) as unknown as AbstractRelayConstructorOptions['websocketImplementation'],
  })
  // The first message waits for the proxy to dial the worker: allow more than the defaults.
  relay.publishTimeout = TIMEOUT_MS
  try {
    return await untilAborted(check(relay, options), options.signal)
  } finally {
    relay.close()
  }
}

async function check(
  relay: AbstractRelay,
  options: { driveUrl: string; ca: string | null },
): Promise<SelfCheckResult> {
  await relay.connect({ timeout: TIMEOUT_MS })
  const event = finalizeEvent(
    {
      kind: 1,
      created_at: Math.floor(Date.now() / 1000),
      tags: [['t', 'hypertuna-demo']],
      content: 'Hello from the Hypertuna gateway demo',
    },
    generateSecretKey(),
  )
  // Resolves on `OK true`, rejects on `OK false` or when no OK comes in time.
  await relay.publish(event)
  const readBack = await readEvent(relay, event.id)
  return { event: readBack, drive: await download(options.driveUrl, options.ca) }
}

function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error)
    if (signal.aborted) return onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

/**
 * The `ws` WebSocket, trusting `ca` on top of the system roots when given. nostr-tools creates
 * sockets with the URL alone, so the option has to be bound in a subclass.
 */
export function webSocketTrusting(ca: string | null): WebSocketClass {
  if (ca === null) return WebSocket
  const trusted = ca
  return class TrustingWebSocket extends WebSocket {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols, { ca: trusted })
    }
  }
}

/** How nostr-tools constructs a socket. */
export type WebSocketClass = new (address: string | URL, protocols?: string | string[]) => WebSocket

function readEvent(relay: AbstractRelay, id: string): Promise<NostrEvent> {
  return new Promise((resolve, reject) => {
    let found: NostrEvent | null = null
    let settled = false
    const timer = setTimeout(() => finish(new Error('no answer to the REQ in time')), TIMEOUT_MS)
    const finish = (err: Error | null): void => {
      // sub.close() calls onclose, which lands here again.
      if (settled) return
      settled = true
      clearTimeout(timer)
      sub.close()
      if (err !== null) reject(err)
      else if (found === null) reject(new Error('the relay did not return the note just published'))
      else resolve(found)
    }
    const sub = relay.subscribe([{ ids: [id] }], {
      eoseTimeout: TIMEOUT_MS,
      onevent: (event) => (found = event),
      oneose: () => finish(null),
      onclose: (reason) => finish(new Error(`subscription closed: ${reason}`)),
    })
  })
}

function download(url: string, ca: string | null): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const onResponse = (res: IncomingMessage): void => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', reject)
      res.on('end', () => {
        if (res.statusCode === 200) resolve(Buffer.concat(chunks))
        else reject(new Error(`GET ${new URL(url).pathname} answered ${res.statusCode}`))
      })
    }
    // agent: false, so no kept-alive socket outlives the check.
    const req =
      ca === null
        ? httpGet(url, { agent: false }, onResponse)
        : httpsGet(url, { ca, agent: false }, onResponse)
    req.setTimeout(TIMEOUT_MS, () => req.destroy(new Error('drive download timed out')))
    req.on('error', reject)
  })
}

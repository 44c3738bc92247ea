import { randomBytes } from 'node:crypto'
import HyperDHT from 'hyperdht'
import type { BootstrapNode } from '../../shared/swarm/create-swarm.js'
import { openBareLink } from '../bare-link.js'
import { summarize } from '../stats.js'
import type { Summary } from '../stats.js'
import { LOOPBACK } from '../testnet.js'

/** Options of {@link measureEcho}. */
export interface EchoOptions {
  bootstrap: readonly BootstrapNode[]
  /** The backend's echo server key (hex). */
  echoKey: string
  /** Message sizes in bytes. */
  sizes: readonly number[]
  warmup: number
  count: number
}

/**
 * The transport floor: round trips of raw messages over one HyperDHT connection (UDX + Noise),
 * the same kind of link the proxy holds to a worker, to the backend process and back, with no
 * relay-v2 protocol and no relay work. Messages carry their length in the first 4 bytes
 * (little-endian); the echo server answers with that many bytes once it has them all.
 */
export async function measureEcho(opts: EchoOptions): Promise<Record<number, Summary>> {
  const dht = new HyperDHT({
    bootstrap: opts.bootstrap.map((n) => ({ host: n.host, port: n.port })),
    host: LOOPBACK,
  })
  const stream = dht.connect(Buffer.from(opts.echoKey, 'hex'))
  stream.on('error', () => {})
  try {
    if (!(await stream.opened)) throw new Error('echo connection did not open')
    const out: Record<number, Summary> = {}
    for (const size of opts.sizes) {
      const message = Buffer.alloc(size, 0x61)
      message.writeUInt32LE(size, 0)
      const samples: number[] = []
      for (let i = 0; i < opts.warmup + opts.count; i++) {
        const started = performance.now()
        await new Promise<void>((resolve) => {
          let got = 0
          const onData = (chunk: Buffer) => {
            got += chunk.length
            if (got < size) return
            stream.off('data', onData)
            resolve()
          }
          stream.on('data', onData)
          stream.write(message)
        })
        if (i >= opts.warmup) samples.push(performance.now() - started)
      }
      out[size] = summarize(samples)
    }
    return out
  } finally {
    stream.destroy()
    await dht.destroy()
  }
}

/** The backend's side: echoes each length-prefixed message back as that many bytes. */
export function echoConnection(stream: NodeJS.ReadWriteStream): void {
  let want = 0
  let got = 0
  stream.on('error', () => {})
  stream.on('data', (chunk: Buffer) => {
    if (want === 0) want = chunk.readUInt32LE(0)
    got += chunk.length
    if (got < want) return
    stream.write(Buffer.alloc(want, 0x62))
    want = 0
    got = 0
  })
}

/** Options of {@link measureLink}. */
export interface LinkOptions {
  bootstrap: readonly BootstrapNode[]
  /** The push worker's swarm key and relay, and a client token of the usual size. */
  peer: string
  relayKey: string
  token: string
  /** Client messages (REQs), by name; each is measured on its own. */
  messages: Record<string, string>
  warmup: number
  count: number
}

/**
 * The worker link alone: the proxy's relay-v2 request for a client message (`POST /post/relay`,
 * the same headers and body as WorkerLink), sent from a bare HyperDHT connection straight to the
 * push worker, with no proxy and no client socket. Against the raw echo it shows what relay-v2 and
 * the worker's routing cost per round trip; against the proxy's round trip, what the proxy adds.
 */
export async function measureLink(opts: LinkOptions): Promise<Record<string, Summary>> {
  const link = await openBareLink(opts.bootstrap, opts.peer)
  const { channel } = link
  try {
    const headers = { 'content-type': 'application/json', 'x-auth-token': opts.token }
    const path = `/post/relay/${opts.relayKey}`
    const connectionKey = randomBytes(16).toString('hex')
    const out: Record<string, Summary> = {}
    for (const [name, text] of Object.entries(opts.messages)) {
      const body = `{"message":${text},"connectionKey":"${connectionKey}"}`
      const samples: number[] = []
      for (let i = 0; i < opts.warmup + opts.count; i++) {
        const started = performance.now()
        const res = await channel.request({ method: 'POST', path, headers, body })
        if (res.statusCode !== 200) throw new Error(`worker answered ${res.statusCode}`)
        if (i >= opts.warmup) samples.push(performance.now() - started)
      }
      out[name] = summarize(samples)
    }
    return out
  } finally {
    await link.close()
  }
}

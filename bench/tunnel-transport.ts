// The tunnel transport choice, measured side by side (docs/protocol.md "Extension: tunnel"):
// one Protomux channel per tunnel on one pooled link, versus one HyperDHT stream per tunnel.
// Run: `npm run build && node dist/bench/tunnel-transport.js`. Parent = client + loopback
// testnet; child = the worker side (both modes) in its own process, as in the field.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { connect as tcpConnect, createServer } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { fileURLToPath } from 'node:url'
import HyperDHT from 'hyperdht'
import { pino } from 'pino'
import { TunnelHost } from '../shared/tunnel/tunnel-host.js'
import { TunnelStream } from '../shared/tunnel/tunnel-stream.js'
import { bootstrapEnv, LOOPBACK, parseBootstrap, startTestnet } from './testnet.js'

const MiB = 1024 * 1024
const OPENS = 30
const ECHOES = 300
const BULK = 64 * MiB
const PARALLEL = 4

/** Local services: `echo` (pipes back) and `sink` (sends the 8-byte big-endian count asked). */
async function services(): Promise<{ echo: number; sink: number }> {
  const echo = createServer((s) => s.on('error', () => {}).pipe(s))
  const sink = createServer((s: Socket) => {
    s.on('error', () => {})
    s.once('data', (head: Buffer) => {
      let left = Number(head.readBigUInt64BE(0))
      const block = Buffer.alloc(64 * 1024, 7)
      const pump = (): void => {
        while (left > 0) {
          const n = Math.min(left, block.length)
          left -= n
          if (!s.write(n === block.length ? block : block.subarray(0, n)))
            return void s.once('drain', pump)
        }
        s.end()
      }
      pump()
    })
  })
  const ports = await Promise.all(
    [echo, sink].map(
      (srv) =>
        new Promise<number>((resolve) =>
          srv.listen(0, LOOPBACK, () => resolve((srv.address() as AddressInfo).port)),
        ),
    ),
  )
  return { echo: ports[0] as number, sink: ports[1] as number }
}

async function worker(bootstrapText: string): Promise<void> {
  const bootstrap = parseBootstrap(bootstrapText)
  const ports = await services()
  const dht = new HyperDHT({ bootstrap, host: LOOPBACK })
  const host = new TunnelHost({
    services: { echo: { port: ports.echo }, sink: { port: ports.sink } },
    logger: pino({ level: 'silent' }),
  })
  const muxKeys = HyperDHT.keyPair()
  const streamKeys = HyperDHT.keyPair()
  // Mode A: every connection is a link; tunnels are Protomux channels on it.
  const muxServer = dht.createServer({}, (conn: Duplex) => {
    conn.on('error', () => {})
    host.serve(conn)
  })
  // Mode B: every connection is one tunnel; its first byte names the service.
  const streamServer = dht.createServer({}, (conn: Duplex) => {
    conn.on('error', () => {})
    conn.once('data', (first: Buffer) => {
      // Hold what follows until the service is connected (a flowing stream would drop it).
      conn.pause()
      const port = first[0] === 0x65 ? ports.echo : ports.sink
      const socket = tcpConnect(port, LOOPBACK, () => {
        if (first.length > 1) socket.write(first.subarray(1))
        // Not conn.pipe(socket): streamx would destroy conn, unflushed, when the sink closes.
        socket.pipe(conn)
        conn.on('data', (d: Buffer) => socket.writable && socket.write(d))
        conn.resume()
      })
      socket.on('error', () => conn.destroy())
      conn.on('close', () => socket.destroy())
    })
  })
  await Promise.all([muxServer.listen(muxKeys), streamServer.listen(streamKeys)])
  process.stdout.write(
    JSON.stringify({
      mux: muxKeys.publicKey.toString('hex'),
      stream: streamKeys.publicKey.toString('hex'),
    }) + '\n',
  )
  process.stdin.resume()
  process.stdin.once('end', () => process.exit(0))
}

function p50(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

function firstData(stream: Duplex): Promise<void> {
  return new Promise((resolve) => stream.once('data', () => resolve()))
}

async function echoRtt(stream: Duplex): Promise<number[]> {
  const msg = Buffer.alloc(100, 1)
  const out: number[] = []
  for (let i = 0; i < ECHOES; i++) {
    const t = performance.now()
    const got = firstData(stream)
    stream.write(msg)
    await got
    out.push(performance.now() - t)
  }
  return out
}

function drain(stream: Duplex, bytes: number): Promise<void> {
  let seen = 0
  return new Promise((resolve, reject) => {
    stream.on('data', (c: Buffer) => {
      seen += c.length
      if (seen >= bytes) resolve()
    })
    stream.once('error', reject)
  })
}

function ask(bytes: number): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(BigInt(bytes))
  return b
}

async function main(): Promise<void> {
  if (process.argv[2] === 'worker') {
    return worker(process.argv[3] as string)
  }
  const testnet = await startTestnet()
  const child = spawn(
    process.execPath,
    [fileURLToPath(import.meta.url), 'worker', bootstrapEnv(testnet.bootstrap)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  const [line] = (await once(child.stdout, 'data')) as [Buffer]
  const keys = JSON.parse(line.toString()) as { mux: string; stream: string }
  const dht = new HyperDHT({ bootstrap: testnet.bootstrap, host: LOOPBACK })
  const connect = async (key: string): Promise<Duplex> => {
    const conn = dht.connect(Buffer.from(key, 'hex')) as unknown as Duplex & {
      opened: Promise<boolean>
    }
    conn.on('error', () => {})
    await conn.opened
    return conn
  }
  const link = await connect(keys.mux)
  const openChannel = (service: string): Promise<Duplex> =>
    Promise.resolve(new TunnelStream(link, { service }))
  const openStream = async (service: string): Promise<Duplex> => {
    const s = await connect(keys.stream)
    s.write(Buffer.from(service === 'echo' ? [0x65] : [0x73]))
    return s
  }
  const modes: Array<[string, (service: string) => Promise<Duplex>]> = [
    ['channel on the pooled link', openChannel],
    ['one DHT stream per tunnel', openStream],
  ]
  const rows: string[] = []
  for (let round = 0; round < 2; round++) {
    for (const [name, open] of modes) {
      const opens: number[] = []
      for (let i = 0; i < OPENS; i++) {
        const t = performance.now()
        const s = await open('echo')
        const got = firstData(s)
        s.write(Buffer.from([1]))
        await got
        opens.push(performance.now() - t)
        s.destroy()
      }
      const e = await open('echo')
      const rtt = await echoRtt(e)
      e.destroy()
      const bulk = async (n: number): Promise<number> => {
        const t = performance.now()
        await Promise.all(
          Array.from({ length: n }, async () => {
            const s = await open('sink')
            const done = drain(s, BULK / n)
            s.write(ask(BULK / n))
            await done
            s.destroy()
          }),
        )
        return BULK / MiB / ((performance.now() - t) / 1000)
      }
      const one = await bulk(1)
      const par = await bulk(PARALLEL)
      rows.push(
        `| ${name} | ${p50(opens).toFixed(2)} ms | ${p50(rtt).toFixed(3)} ms | ${one.toFixed(1)} MiB/s | ${par.toFixed(1)} MiB/s |`,
      )
    }
  }
  process.stdout.write(
    '| transport (round 1, 2) | open + first echo p50 | 100 B echo p50 | 64 MiB, 1 tunnel | 64 MiB over 4 tunnels |\n|---|---:|---:|---:|---:|\n' +
      rows.join('\n') +
      '\n',
  )
  child.stdin.end()
  link.destroy()
  await dht.destroy()
  await testnet.destroy()
}

await main()

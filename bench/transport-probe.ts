// `npm run bench:transport`: the transport alone, no relay-v2 and no gateway. A HyperDHT connection
// (Noise secret-stream over a framed UDX stream, what the pool holds to a worker) and a bare UDX
// stream between the same two processes, on a loopback testnet: echo round trips by message size
// and write pattern, pipelined request/answer throughput, one-way bulk throughput, and the CPU
// each end spends. The findings it backs are in bench/README.md ("The transport").
import { once } from 'node:events'
import type { Duplex } from 'node:stream'
import HyperDHT from 'hyperdht'
import { spawnChild } from './child-process.js'
import { bootstrapEnv, LOOPBACK, parseBootstrap, startTestnet } from './testnet.js'

/** The part of udx-native's API the probe uses (reached through the DHT node's own UDX). */
interface UdxStream extends Duplex {
  connect(socket: UdxSocket, remoteId: number, port: number, host: string): void
  readonly mtu: number
  readonly cwnd: number
  readonly rtt: number
  readonly bbrBandwidth: number
  readonly retransmits: number
}
interface UdxSocket {
  bind(port: number, host: string): void
  address(): { port: number }
  close(): Promise<void>
}
interface Udx {
  createSocket(): UdxSocket
  createStream(id: number): UdxStream
}
const udxOf = (dht: HyperDHT): Udx => (dht as unknown as { udx: Udx }).udx

// Wire format of the probe: [u32 total length][u8 op][u32 answer length][payload]. The server
// answers with `answer` bytes once it has the whole message; op 2 (bulk) answers 1 byte.
const HEADER = 9

/** Server side: answers every complete message, whatever the chunking. */
function serve(stream: Duplex): void {
  let want = 0
  let got = 0
  let answer = 0
  let head = Buffer.alloc(0)
  stream.on('error', () => {})
  stream.on('data', (chunk: Buffer) => {
    let at = 0
    while (at < chunk.length) {
      if (want === 0) {
        const part = chunk.subarray(at, at + HEADER - head.length)
        head = Buffer.concat([head, part])
        at += part.length
        if (head.length < HEADER) return
        want = head.readUInt32LE(0)
        answer = head.readUInt32LE(5)
        got = HEADER
        head = Buffer.alloc(0)
      }
      const take = Math.min(want - got, chunk.length - at)
      got += take
      at += take
      if (got === want) {
        stream.write(Buffer.alloc(Math.max(answer, 1), 0x62))
        want = 0
      }
    }
  })
}

function message(size: number, answer: number, op = 1): Buffer {
  const m = Buffer.alloc(Math.max(size, HEADER), 0x61)
  m.writeUInt32LE(m.length, 0)
  m[4] = op
  m.writeUInt32LE(answer, 5)
  return m
}

function received(stream: Duplex, bytes: number): Promise<void> {
  return new Promise((resolve) => {
    let got = 0
    const onData = (chunk: Buffer) => {
      got += chunk.length
      if (got < bytes) return
      stream.off('data', onData)
      resolve()
    }
    stream.on('data', onData)
  })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** p50, mean and the share of samples over 0.9 ms (a pacing-timer wait). */
export interface EchoStats {
  p50: number
  mean: number
  slow: number
}

function stats(samples: number[]): EchoStats {
  const sorted = [...samples].sort((x, y) => x - y)
  return {
    p50: sorted[Math.floor(sorted.length / 2)] ?? 0,
    mean: samples.reduce((s, x) => s + x, 0) / samples.length,
    slow: samples.filter((x) => x > 0.9).length / samples.length,
  }
}

type Pattern = 'one write' | '4 writes' | 'corked'

async function echo(
  stream: Duplex,
  size: number,
  answer: number,
  opts: { count: number; gapMs?: number; pattern?: Pattern },
): Promise<EchoStats> {
  const samples: number[] = []
  const m = message(size, answer)
  for (let i = 0; i < opts.count + 20; i++) {
    if (opts.gapMs !== undefined) await sleep(opts.gapMs)
    const started = performance.now()
    const done = received(stream, Math.max(answer, 1))
    const pattern = opts.pattern ?? 'one write'
    if (pattern === 'one write') stream.write(m)
    else {
      const step = Math.ceil(m.length / 4)
      if (pattern === 'corked') stream.cork()
      for (let at = 0; at < m.length; at += step) stream.write(m.subarray(at, at + step))
      if (pattern === 'corked') stream.uncork()
    }
    await done
    if (i >= 20) samples.push(performance.now() - started)
  }
  return stats(samples)
}

/** Messages per second with `inFlight` requests outstanding, for `ms`. */
async function pipelined(
  stream: Duplex,
  size: number,
  answer: number,
  inFlight: number,
  ms: number,
  batched = false,
): Promise<number> {
  const m = message(size, answer)
  const each = Math.max(answer, 1)
  let got = 0
  let done = 0
  let pending = 0
  let stopping = false
  let settle = () => {}
  const drained = new Promise<void>((resolve) => (settle = resolve))
  const onData = (chunk: Buffer) => {
    got += chunk.length
    let next = 0
    while (got >= each) {
      got -= each
      done++
      pending--
      if (!stopping) next++
    }
    // Batched: what one read freed leaves as one write (a Protomux batch does that for frames).
    if (batched && next > 1) stream.write(Buffer.concat(Array.from({ length: next }, () => m)))
    else for (let i = 0; i < next; i++) stream.write(m)
    pending += next
    if (stopping && pending === 0) settle()
  }
  stream.on('data', onData)
  const started = performance.now()
  for (let i = 0; i < inFlight; i++) stream.write(m)
  pending = inFlight
  await sleep(ms)
  stopping = true
  const perSecond = done / ((performance.now() - started) / 1000)
  await drained
  stream.off('data', onData)
  return perSecond
}

/** One-way MB/s: `total` bytes as one probe message, written in `chunk`-byte writes. */
async function bulk(stream: Duplex, total: number, chunk: number): Promise<number> {
  const started = performance.now()
  const done = received(stream, 1)
  const first = message(chunk, 1, 2)
  first.writeUInt32LE(total, 0)
  for (let sent = 0; sent < total;) {
    const n = Math.min(chunk, total - sent)
    const ok = stream.write(sent === 0 ? first.subarray(0, n) : Buffer.alloc(n, 0x61))
    sent += n
    if (!ok) await once(stream, 'drain')
  }
  await done
  return total / ((performance.now() - started) / 1000) / 1e6
}

async function child(): Promise<void> {
  process.on('disconnect', () => process.exit(0))
  const dht = new HyperDHT({
    bootstrap: parseBootstrap(process.env.BENCH_BOOTSTRAP ?? ''),
    host: LOOPBACK,
  })
  const keyPair = HyperDHT.keyPair()
  const server = dht.createServer({}, serve)
  await server.listen(keyPair)
  const socket = udxOf(dht).createSocket()
  socket.bind(0, LOOPBACK)
  const raw = udxOf(dht).createStream(2)
  serve(raw)
  process.on('message', (m: { type: string; port?: number }) => {
    if (m.type === 'connect') raw.connect(socket, 1, m.port as number, LOOPBACK)
    if (m.type === 'cpu') process.send?.({ type: 'cpu', usage: process.cpuUsage() })
  })
  process.send?.({
    type: 'ready',
    key: keyPair.publicKey.toString('hex'),
    port: socket.address().port,
  })
}

const pad = (text: string | number, width: number) => String(text).padStart(width)
const ms = (x: number) => x.toFixed(3)
const pct = (x: number) => `${Math.round(x * 100)}%`

async function report(
  links: Array<[string, Duplex, UdxStream]>,
  quick: boolean,
  peerCpu: () => Promise<NodeJS.CpuUsage>,
): Promise<void> {
  const count = quick ? 150 : 400
  const print = (line: string) => process.stdout.write(`${line}\n`)
  const state = (u: UdxStream) =>
    `mtu ${u.mtu}, cwnd ${u.cwnd}, srtt ${u.rtt} ms, BBR bandwidth ${(u.bbrBandwidth / 1e6).toFixed(1)} MB/s, retransmits ${u.retransmits}`
  print('echo round trip, request = answer = size, back to back: p50 ms (mean, share > 0.9 ms)')
  for (const [name, stream, udx] of links) {
    const cells: string[] = []
    for (const size of [256, 1_000, 1_200, 1_400, 2_000, 2_400, 4_000, 8_000, 16_000]) {
      const e = await echo(stream, size, size, { count })
      cells.push(`${size} B ${ms(e.p50)} (${ms(e.mean)}, ${pct(e.slow)})`)
    }
    print(`  ${name}: ${cells.join('; ')}`)
    print(`    after: ${state(udx)}`)
  }
  print('the same 4,000 B and 1,200 B echo with 3 ms idle before each (pacing bucket refilled)')
  for (const [name, stream] of links) {
    const big = await echo(stream, 4_000, 4_000, { count: count / 2, gapMs: 3 })
    const small = await echo(stream, 1_200, 1_200, { count: count / 2, gapMs: 3 })
    print(
      `  ${name}: 4,000 B ${ms(big.p50)} (${pct(big.slow)}); 1,200 B ${ms(small.p50)} (${pct(small.slow)})`,
    )
  }
  print(
    'write pattern: request 4,000 B (1,000 B) as one write, 4 writes in one tick, 4 corked writes; answer 100 B',
  )
  for (const [name, stream] of links) {
    const cells: string[] = []
    for (const pattern of ['one write', '4 writes', 'corked'] as const) {
      const big = await echo(stream, 4_000, 100, { count, pattern })
      const small = await echo(stream, 1_000, 100, { count, pattern })
      cells.push(`${pattern} ${ms(big.p50)} (${ms(small.p50)})`)
    }
    print(`  ${name}: ${cells.join('; ')}`)
  }
  print(
    'pipelined: msg/s with k in flight (batched: the client writes what one read freed in one write), CPU per message of both ends',
  )
  const windowMs = quick ? 1_000 : 2_000
  for (const [name, stream, udx] of links) {
    for (const [size, answer, label] of [
      [981, 213, 'gateway EVENT->OK sizes'],
      [691, 1_429, 'gateway REQ->EOSE sizes'],
      [300, 100, 'small'],
    ] as const) {
      const cells: string[] = []
      for (const [k, batched] of [
        [1, false],
        [16, false],
        [128, false],
        [128, true],
      ] as const) {
        const [mine, theirs, t0] = [process.cpuUsage(), await peerCpu(), performance.now()]
        const perSecond = await pipelined(stream, size, answer, k, windowMs, batched)
        const wall = performance.now() - t0
        const used = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage) =>
          b.user + b.system - a.user - a.system
        const cpuUs =
          ((used(mine, process.cpuUsage()) + used(theirs, await peerCpu())) / 1000 / wall) * 1e6
        cells.push(
          `k ${k} ${Math.round(perSecond).toLocaleString('en-US')}/s ${(cpuUs / perSecond).toFixed(1)} µs`,
        )
      }
      print(`  ${name} ${size}/${answer} B (${label}): ${cells.join('; ')}`)
    }
    print(`    after: ${state(udx)}`)
  }
  print('one-way bulk: MB/s for 32 MiB written in chunks')
  for (const [name, stream] of links) {
    const cells: string[] = []
    for (const chunk of [1_000, 16_384, 65_536, 1 << 20]) {
      cells.push(`${pad(chunk, 7)} B ${(await bulk(stream, 32 << 20, chunk)).toFixed(0)}`)
    }
    print(`  ${name}: ${cells.join('; ')}`)
  }
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick')
  const testnet = await startTestnet()
  const peer = spawnChild({
    name: 'probe',
    entry: import.meta.url,
    nodeArgs: [],
    env: { BENCH_BOOTSTRAP: bootstrapEnv(testnet.bootstrap), PROBE_CHILD: '1' },
  })
  const dht = new HyperDHT({ bootstrap: testnet.bootstrap, host: LOOPBACK })
  try {
    const ready = await peer.waitForMessage(
      (m): m is { type: 'ready'; key: string; port: number } =>
        (m as { type?: string }).type === 'ready',
    )
    const secret = dht.connect(Buffer.from(ready.key, 'hex'))
    secret.on('error', () => {})
    if (!(await secret.opened)) throw new Error('probe connection did not open')
    const socket = udxOf(dht).createSocket()
    socket.bind(0, LOOPBACK)
    const raw = udxOf(dht).createStream(1)
    raw.on('error', () => {})
    raw.connect(socket, 2, ready.port, LOOPBACK)
    peer.send({ type: 'connect', port: socket.address().port })
    const cpu = async () => {
      peer.send({ type: 'cpu' })
      const m = await peer.waitForMessage(
        (x): x is { type: 'cpu'; usage: NodeJS.CpuUsage } =>
          (x as { type?: string }).type === 'cpu',
      )
      return m.usage
    }
    const links: Array<[string, Duplex, UdxStream]> = [
      ['secret-stream', secret, (secret as unknown as { rawStream: UdxStream }).rawStream],
      ['bare UDX', raw, raw],
    ]
    await report(links, quick, cpu)
    secret.destroy()
    raw.destroy()
    await socket.close()
  } finally {
    await peer.stop('SIGTERM', 2_000)
    await dht.destroy()
    await testnet.destroy()
  }
}

const run = process.env.PROBE_CHILD === '1' ? child : main
run().catch((err: unknown) => {
  process.stderr.write(
    `transport-probe: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  )
  process.exit(1)
})

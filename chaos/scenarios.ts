import { once } from 'node:events'
import { connect } from 'node:net'
import { WebSocket } from 'ws'
import type { BenchGateway } from '../bench/gateway-process.js'
import { sleep } from '../bench/sleep.js'
import type { BenchTestnet } from '../bench/testnet.js'
import { startRedis } from '../tests/helpers/redis-server.js'
import { startChaosGateway, startRelay } from './chaos-stack.js'
import type { ChaosRelay } from './chaos-stack.js'
import { ClientLoad } from './client-load.js'
import type { Tally } from './client-load.js'

/** One row of the chaos report. */
export interface Row {
  name: string
  tally: Tally
  rssBefore: number | null
  rssAfter: number | null
  note: string
}

/** What every scenario runs on: the testnet and a shared gateway (fresh ones where needed). */
export interface ChaosContext {
  testnet: BenchTestnet
  gateway: BenchGateway
}

// Steady load of every scenario: 8 sessions x 25 EVENTs/s, 8 s, the fault 2.5 s in.
const SESSIONS = 8
const RATE = 25
const DURATION_MS = 8_000
const FAULT_AT_MS = 2_500

async function underLoad(
  url: () => string,
  fault: () => Promise<string>,
  opts: { reconnect?: boolean; flood?: (load: ClientLoad) => Promise<void> } = {},
): Promise<{ tally: Tally; note: string }> {
  const load = new ClientLoad({
    url,
    sessions: SESSIONS,
    rate: RATE,
    ...(opts.reconnect === undefined ? {} : { reconnect: opts.reconnect }),
  })
  await load.start()
  const started = performance.now()
  await sleep(FAULT_AT_MS)
  const note = await fault()
  if (opts.flood !== undefined) await opts.flood(load)
  await sleep(Math.max(0, DURATION_MS - (performance.now() - started)))
  return { tally: await load.stop(), note }
}

function alive(gateway: BenchGateway): string {
  return gateway.child.child.exitCode === null && gateway.child.child.signalCode === null
    ? 'gateway alive'
    : 'GATEWAY DIED'
}

async function withRelay<T>(
  ctx: ChaosContext,
  gateway: BenchGateway,
  run: (relay: ChaosRelay) => Promise<T>,
): Promise<T> {
  const relay = await startRelay(ctx.testnet, gateway, 2)
  try {
    return await run(relay)
  } finally {
    await relay.stop()
  }
}

export async function workerKill(ctx: ChaosContext, signal: 'SIGKILL' | 'SIGSTOP'): Promise<Row> {
  const { gateway } = ctx
  return withRelay(ctx, gateway, async (relay) => {
    // Both links up before the load, so sessions spread over both workers (fewest sessions
    // first) and the failover lands on a warm link; then stop the worker carrying the most
    // sessions, never an idle one (before, 2 of 5 SIGSTOP runs stopped a worker with none).
    await warmLinks(relay)
    const rssBefore = gateway.rss()
    const { tally, note } = await underLoad(relay.url, async () => {
      const carrying = (await Promise.all(relay.workers.map((w) => w.status()))).map(
        (s) => s.connections,
      )
      const most = Math.max(...carrying)
      const victim = relay.workers[carrying.indexOf(most)]
      if (victim === undefined || most === 0) throw new Error('no worker carries a session')
      victim.child.child.kill(signal)
      const total = carrying.reduce((a, b) => a + b, 0)
      return `${signal} at ${FAULT_AT_MS / 1000} s the worker carrying ${most} of ${total} sessions`
    })
    return {
      name: `worker ${signal} (2 workers)`,
      tally,
      rssBefore,
      rssAfter: gateway.rss(),
      note,
    }
  })
}

// One session through the gateway makes the proxy dial every worker of the relay; done once
// each worker holds a gateway channel.
async function warmLinks(relay: ChaosRelay, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  const ws = new WebSocket(relay.url())
  ws.on('error', () => {})
  try {
    await once(ws, 'open')
    const eose = new Promise<void>((resolve) =>
      ws.on('message', (data: Buffer) => {
        if (data.toString().startsWith('["EOSE"')) resolve()
      }),
    )
    ws.send(JSON.stringify(['REQ', 'warm', { limit: 0 }]))
    await Promise.race([eose, sleep(timeoutMs)])
    // Only the workers can say whether the gateway's links are up: ask until they are.
    for (;;) {
      const statuses = await Promise.all(relay.workers.map((w) => w.status()))
      if (statuses.every((s) => s.channels > 0)) return
      if (Date.now() > deadline) throw new Error('the gateway did not link to every worker')
      await sleep(100)
    }
  } finally {
    ws.close()
  }
}

/** Redis SIGKILLed under proxy + registrar and restarted 2.5 s later: sessions and the API. */
export async function redisRestart(ctx: ChaosContext): Promise<Row[]> {
  const redis = await startRedis()
  const gateway = await startChaosGateway(ctx.testnet, { GATEWAY_REGISTRATION_REDIS: redis.url })
  try {
    return await withRelay(ctx, gateway, async (relay) => {
      const rssBefore = gateway.rss()
      const api = registrarCalls(gateway, relay)
      const { tally } = await underLoad(relay.url, async () => {
        await redis.kill()
        await sleep(2_500)
        await redis.restart()
        return ''
      })
      const apiTally = await api.stop()
      const rssAfter = gateway.rss()
      const note = `redis SIGKILL at ${FAULT_AT_MS / 1000} s, back 2.5 s later`
      return [
        { name: 'redis kill+restart: sessions', tally, rssBefore, rssAfter, note },
        {
          name: 'redis kill+restart: registrar API',
          tally: apiTally,
          rssBefore: null,
          rssAfter: null,
          note: `${note}; renewals every 100 ms`,
        },
      ]
    })
  } finally {
    await gateway.stop(5_000)
    await redis.stop()
  }
}

// Registration renewals through the registrar, one every 100 ms, counted like messages.
function registrarCalls(gateway: BenchGateway, relay: ChaosRelay): { stop(): Promise<Tally> } {
  const tally: Tally = {
    sent: 0,
    answered: 0,
    refused: 0,
    lost: 0,
    longestPauseMs: 0,
    closes: new Map(),
  }
  let last = performance.now()
  let running = true
  const inflight = new Set<Promise<void>>()
  const timer = setInterval(() => {
    if (!running) return
    tally.sent++
    const call = gateway
      .register(
        relay.relayKey,
        relay.workers.map((w) => w.publicKey),
      )
      .then(
        () => {
          const now = performance.now()
          tally.longestPauseMs = Math.max(tally.longestPauseMs, now - last)
          last = now
          tally.answered++
        },
        (err: unknown) => {
          // An answer that says no (503 + Retry-After) is a refusal; no answer at all is lost.
          const status = (err as { status?: unknown }).status
          if (typeof status === 'number') tally.refused++
          else tally.lost++
        },
      )
      .finally(() => inflight.delete(call))
    inflight.add(call)
  }, 100)
  return {
    async stop() {
      running = false
      clearInterval(timer)
      await Promise.all(inflight)
      tally.longestPauseMs = Math.max(tally.longestPauseMs, performance.now() - last)
      return tally
    },
  }
}

/** SIGTERM to the gateway with live sessions under load: in-flight answers, then 1001. */
export async function proxySigterm(ctx: ChaosContext): Promise<Row> {
  const gateway = await startChaosGateway(ctx.testnet)
  try {
    return await withRelay(ctx, gateway, async (relay) => {
      const rssBefore = gateway.rss()
      let exit: number | null = null
      const { tally } = await underLoad(
        relay.url,
        async () => {
          exit = await gateway.child.stop('SIGTERM', 15_000)
          return ''
        },
        { reconnect: false },
      )
      const codes = [...tally.closes].map(([code, n]) => `${n}x${code}`).join(' ')
      return {
        name: 'proxy SIGTERM, live sessions',
        tally,
        rssBefore,
        rssAfter: null,
        note: `exit ${String(exit)}; closes ${codes}`,
      }
    })
  } finally {
    await gateway.stop(1_000)
  }
}

// Frames no session should survive seeing, sent after a refused (no token) upgrade.
const MALFORMED = [
  [0x83, 0x81, 0x41, 0x41, 0x41, 0x41, 0x78], // reserved opcode
  [0xc1, 0x81, 0x41, 0x41, 0x41, 0x41, 0x78], // RSV1 without an extension
  [0x81, 0x01, 0x78], // unmasked client frame
  [0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4], // 64-bit length with the top bit set
  [0x81, 0x82, 0, 0, 0, 0, 0xc3, 0x28], // invalid UTF-8 text
  [0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe7], // close code 999
  [0x09, 0x80, 0, 0, 0, 0], // fragmented ping
].map((bytes) => Uint8Array.from(bytes))
const UPGRADE = (port: string): string =>
  `GET /x HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'

async function malformedConnection(gateway: BenchGateway, frame: Uint8Array): Promise<void> {
  const port = new URL(gateway.httpUrl).port
  const socket = connect({ host: '127.0.0.1', port: Number(port) })
  socket.on('error', () => {})
  socket.on('data', () => {})
  const closed = once(socket, 'close')
  socket.write(UPGRADE(port))
  socket.write(frame)
  socket.end()
  await Promise.race([closed, sleep(5_000)])
  socket.destroy()
}

export async function floodMalformed(ctx: ChaosContext, connections = 600): Promise<Row> {
  const { gateway } = ctx
  return withRelay(ctx, gateway, async (relay) => {
    const rssBefore = gateway.rss()
    const { tally } = await underLoad(relay.url, async () => {
      for (let i = 0; i < connections; i += 50) {
        await Promise.all(
          Array.from({ length: 50 }, (_, j) =>
            malformedConnection(gateway, MALFORMED[(i + j) % MALFORMED.length] as Uint8Array),
          ),
        )
      }
      return ''
    })
    return {
      name: `flood: ${connections} unauthenticated malformed frames`,
      tally,
      rssBefore,
      rssAfter: gateway.rss(),
      note: alive(gateway),
    }
  })
}

export async function floodReq(ctx: ChaosContext, count = 1_000, idBytes = 60_000): Promise<Row> {
  const { gateway } = ctx
  return withRelay(ctx, gateway, async (relay) => {
    const rssBefore = gateway.rss()
    const { tally } = await underLoad(relay.url, async () => '', {
      flood: async (load) => {
        const frames = Array.from({ length: count }, (_, i) => {
          const id = `${i}-`.padEnd(idBytes, 'x')
          return { id, text: `["REQ","${id}",{"kinds":[1],"limit":1}]` }
        })
        await load.flood(frames)
      },
    })
    return {
      name: `flood: ${count} REQs with ${idBytes / 1000} KB ids`,
      tally,
      rssBefore,
      rssAfter: gateway.rss(),
      note: `counts include the REQs; ${alive(gateway)}`,
    }
  })
}

export async function floodConnections(ctx: ChaosContext, count = 1_000): Promise<Row> {
  const { gateway } = ctx
  return withRelay(ctx, gateway, async (relay) => {
    const rssBefore = gateway.rss()
    let opened = 0
    const { tally } = await underLoad(relay.url, async () => {
      const flood = new ClientLoad({ url: relay.url, sessions: 0, rate: 1, reconnect: false })
      await flood.start()
      const attempts = Array.from({ length: count }, () =>
        flood.flood([]).then(
          () => void opened++,
          () => undefined,
        ),
      )
      await Promise.all(attempts)
      await flood.stop(0)
      return ''
    })
    return {
      name: `flood: ${count} connections`,
      tally,
      rssBefore,
      rssAfter: gateway.rss(),
      note: `${opened} opened then closed; ${alive(gateway)}`,
    }
  })
}

import { expect } from 'chai'
import fc from 'fast-check'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { connect } from 'node:net'
import { startProxyStack } from '../helpers/proxy-stack.js'
import type { ProxyStack } from '../helpers/proxy-stack.js'
import { startTestnet } from '../helpers/testnet.js'
import type { LocalTestnet } from '../helpers/testnet.js'
import { startWorker } from '../helpers/worker.js'
import type { TestWorker } from '../helpers/worker.js'
import { rawClient } from '../helpers/ws-client.js'
import { encodeFrame, frameSequence } from './frames.js'
import { fuzzBudget } from './fuzz-budget.js'
import { trapUncaught } from './trap-uncaught.js'

// Issue 9.2: whatever arrives on a socket, before or after a refusal, the proxy stays up and a
// bystander session is served. Bounded by count and time (FUZZ_RUNS, FUZZ_SECONDS); a failure
// prints fast-check's seed and path (replay with FUZZ_SEED / FUZZ_PATH).
describe('proxy fuzz: raw frames, paths, headers and tokens', function () {
  this.timeout(120_000)
  let testnet: LocalTestnet
  let worker: TestWorker
  let stack: ProxyStack
  let lonely: string
  const trap = trapUncaught()

  before(async () => {
    testnet = await startTestnet()
    worker = await startWorker(testnet)
    stack = await startProxyStack(testnet, { limits: { maxSessionsPerToken: 1_000 } })
    await stack.register(worker.relayKey, [worker.publicKey], { gatewayPath: 'fuzz-relay' })
    lonely = randomBytes(32).toString('hex')
    await stack.register(lonely, [randomBytes(32).toString('hex')])
  })

  after(async () => {
    trap.release()
    await stack?.close()
    await worker?.close()
    await testnet?.destroy()
  })

  afterEach(() => expect(trap.errors.map(String)).to.deep.equal([]))

  async function bystanderServed(): Promise<void> {
    const c = await rawClient(stack.url(worker.relayKey, stack.token(worker.relayKey)))
    c.send(['REQ', 'bystander', { limit: 1 }])
    await c.next((m) => Array.isArray(m) && m[0] === 'EOSE' && m[1] === 'bystander')
    c.ws.close()
    await c.closed
  }

  // Writes `head` and then `frames` on a fresh TCP connection, half-closes and waits until the
  // server has closed too: every path through the proxy ends in a close, never a hang. The
  // frames go either right behind the head (they arrive while admission is still deciding) or
  // once the answer's head is back (after the refusal or the accepted upgrade).
  async function exchange(
    head: string | Uint8Array,
    frames: Uint8Array[],
    afterAnswer = false,
  ): Promise<void> {
    const socket = connect({ host: '127.0.0.1', port: stack.port })
    socket.on('error', () => {})
    let received = ''
    const answered = new Promise<void>((resolve) => {
      const onData = (chunk: Buffer): void => {
        received += chunk.toString('latin1')
        if (!received.includes('\r\n\r\n')) return
        socket.off('data', onData)
        socket.on('data', () => {})
        resolve()
      }
      socket.on('data', onData)
      socket.once('close', () => resolve())
    })
    const closed = once(socket, 'close')
    await once(socket, 'connect')
    socket.write(head)
    if (afterAnswer) await answered
    for (const frame of frames) if (!socket.destroyed) socket.write(frame)
    socket.end()
    await closed
  }

  const upgradeHead = (path: string, extra: string[] = []): string =>
    [
      `GET ${path} HTTP/1.1`,
      `Host: 127.0.0.1:${stack.port}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version: 13',
      ...extra,
      '',
      '',
    ].join('\r\n')

  // Every kind of refusal, and an accepted session, as the state frames arrive in.
  const sessionKinds = {
    'no token': () => '/x',
    'bad token': () => `/${worker.relayKey}?token=garbage`,
    'wrong relay': () => `/${worker.relayKey}?token=${stack.token('f'.repeat(64))}`,
    'unknown relay': () => `/${'e'.repeat(64)}?token=${stack.token('e'.repeat(64))}`,
    'malformed path': () => `/a/b/c/d/e?token=${stack.token(worker.relayKey)}`,
    'no worker (1013)': () => `/${lonely}?token=${stack.token(lonely)}`,
    accepted: () => `/${worker.relayKey}?token=${stack.token(worker.relayKey)}`,
    'accepted (alias)': () => `/fuzz-relay?token=${stack.token(worker.relayKey)}`,
  }
  const kind = fc.constantFrom(...(Object.keys(sessionKinds) as Array<keyof typeof sessionKinds>))

  it('survives random and malformed frames before and after each kind of refusal and on live sessions', async () => {
    await fc.assert(
      fc.asyncProperty(kind, frameSequence, fc.boolean(), async (k, frames, afterAnswer) => {
        await exchange(upgradeHead(sessionKinds[k]()), frames.map(encodeFrame), afterAnswer)
        expect(trap.errors.map(String)).to.deep.equal([])
      }),
      fuzzBudget(),
    )
    await bystanderServed()
  })

  // Printable junk, percent-escapes, separators and very long pieces.
  const pathPiece = fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.constantFrom('%', '%E0%A4%A', '%00', '..', '//', '?', '#', ':', 'token=', '&token='),
    fc.constantFrom('a'.repeat(600), 'npub1' + 'q'.repeat(58)),
  )
  const randomPath = fc
    .array(pathPiece, { minLength: 0, maxLength: 5 })
    .map((pieces) => `/${pieces.join('/')}`)
  const headerLine = fc.oneof(
    fc.tuple(
      fc.constantFrom('Authorization', 'X-Forwarded-For', 'Accept', 'Referer', 'Range', 'Cookie'),
      fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom('Bearer ', 'bearer x', 'Bearer')),
    ),
    fc.tuple(fc.string({ minLength: 1, maxLength: 20 }), fc.string({ maxLength: 40 })),
  )
  const headers = fc
    .array(headerLine, { maxLength: 4 })
    .map((lines) => lines.map(([k, v]) => `${k}: ${v}`.replace(/[\r\n]/g, ' ')))
  const token = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.constant('eyJ'),
    fc.base64String({ maxLength: 120 }),
  )

  it('survives random paths, headers and tokens, as upgrades and as plain requests', async () => {
    await fc.assert(
      fc.asyncProperty(
        randomPath,
        headers,
        token,
        fc.boolean(),
        frameSequence,
        async (path, extra, tok, upgrade, frames) => {
          const url = `${path}?token=${encodeURIComponent(tok)}`
          const head = upgrade
            ? upgradeHead(url, extra)
            : [`GET ${url} HTTP/1.1`, 'Host: x', 'Connection: close', ...extra, '', ''].join('\r\n')
          await exchange(head, upgrade ? frames.map(encodeFrame) : [])
          expect(trap.errors.map(String)).to.deep.equal([])
        },
      ),
      fuzzBudget(),
    )
    await bystanderServed()
  })

  it('survives raw garbage in place of a request head', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), async (bytes) => {
        await exchange(bytes, [])
        expect(trap.errors.map(String)).to.deep.equal([])
      }),
      fuzzBudget(),
    )
    await bystanderServed()
  })
})
